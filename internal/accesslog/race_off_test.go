//go:build !race

package accesslog

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
