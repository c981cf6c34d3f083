//go:build race

package router

// raceEnabled is set when the tests run under the race detector, which makes allocation counts unreliable.
const raceEnabled = true
