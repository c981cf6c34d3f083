package balance

import (
	"sort"

	"github.com/gatehouse-proxy/gatehouse/internal/upstream"
)

// ringSeed seeds the hash of a backend's address into its ring points.
const ringSeed = 0x72696e67 // "ring"

// hashRing builds a consistent-hash ring (Karger et al.): each backend gets ringVnodes points per
// unit of weight (fewer when the total would pass maxRingPoints, at least one each), placed by the
// SplitMix64 sequence seeded with the hash of its address. It returns the points in ascending
// order and the owner of each; equal points are ordered by address.
func hashRing(bs []*upstream.Backend, w []float64) (points []uint64, owners []int32) {
	var sumW int
	for _, x := range w {
		sumW += int(x)
	}
	per := ringVnodes
	if sumW*per > maxRingPoints {
		per = max(1, maxRingPoints/sumW)
	}
	type point struct {
		h     uint64
		owner int32
	}
	var pts []point
	for i, be := range bs {
		base := hash64([]byte(be.Addr), ringSeed)
		for k := range int(w[i]) * per {
			pts = append(pts, point{h: mix64(base + uint64(k+1)*0x9e3779b97f4a7c15), owner: int32(i)})
		}
	}
	sort.Slice(pts, func(a, b int) bool {
		if pts[a].h != pts[b].h {
			return pts[a].h < pts[b].h
		}
		return bs[pts[a].owner].Addr < bs[pts[b].owner].Addr
	})
	points = make([]uint64, len(pts))
	owners = make([]int32, len(pts))
	for k, p := range pts {
		points[k], owners[k] = p.h, p.owner
	}
	return points, owners
}
