package balance

import "github.com/gatehouse-proxy/gatehouse/internal/upstream"

// maglevSize is the Maglev lookup table's size: a prime, so that every skip visits every slot, and
// large enough (over 100 × the backends of any sensible pool) to spread keys within about 1%.
const maglevSize = 65537

// Seeds of the two hashes of a backend's address that give its Maglev offset and skip.
const (
	maglevOffsetSeed = 0x6f6666 // "off"
	maglevSkipSeed   = 0x736b6970
)

// maglevTable builds a Maglev lookup table (Eisenbud et al., NSDI 2016) with weights as Envoy does:
// backends take turns, in address order, filling the next free slot of their own permutation of the
// table, and in each round a backend takes a turn only while its count of slots is behind its
// weight relative to the largest. Every backend gets at least one slot.
func maglevTable(bs []*upstream.Backend, w []float64) []int32 {
	order := byAddr(bs)
	n := len(order)
	offset := make([]uint64, n)
	skip := make([]uint64, n)
	next := make([]uint64, n)
	count := make([]float64, n)
	norm := make([]float64, n)
	var maxW float64
	for _, x := range w {
		maxW = max(maxW, x)
	}
	for k, i := range order {
		addr := []byte(bs[i].Addr)
		offset[k] = hash64(addr, maglevOffsetSeed) % maglevSize
		skip[k] = hash64(addr, maglevSkipSeed)%(maglevSize-1) + 1
		norm[k] = w[i] / maxW
	}
	table := make([]int32, maglevSize)
	for s := range table {
		table[s] = -1
	}
	filled := 0
	for round := 0; filled < maglevSize; round++ {
		for k := 0; k < n && filled < maglevSize; k++ {
			if float64(round)*norm[k] < count[k] {
				continue
			}
			count[k]++
			for {
				s := (offset[k] + next[k]*skip[k]) % maglevSize
				next[k]++
				if table[s] < 0 {
					table[s] = int32(order[k])
					filled++
					break
				}
			}
		}
	}
	return table
}
