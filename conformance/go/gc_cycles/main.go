// gc_cycles: 1 GiB allocated in 16 KiB objects over a 16 MiB live heap, at GOGC 50, 100 and
// 200, then over a 64 MiB live heap at GOGC 100. The pacer lets the heap grow to
// live × (1 + GOGC/100) before the next cycle ends, so the cycle count is about inversely
// proportional to GOGC and to the live heap.
//
// The heap goal (MemStats.NextGC, sampled every 4 MiB allocated; the median) is about the
// marked heap times (1 + GOGC/100); the marked heap is the live heap plus what was allocated
// during the mark phase (allocated black: floating garbage).
//
// Comparison: each count within ±20% of Go's; each median heap goal within ±15%.
package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
)

var sink []byte

func cycles(gogc int, liveMiB int) (uint32, uint64) {
	debug.SetGCPercent(gogc)
	live := make([][]byte, liveMiB*64)
	for i := range live {
		live[i] = make([]byte, 16<<10)
	}
	var before, after, m runtime.MemStats
	var goals []uint64
	runtime.ReadMemStats(&before)
	for n := 0; n < 1<<30; n += 16 << 10 {
		sink = make([]byte, 16<<10)
		if n%(4<<20) == 0 {
			runtime.ReadMemStats(&m)
			goals = append(goals, m.NextGC)
		}
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(live)
	sort.Slice(goals, func(i, j int) bool { return goals[i] < goals[j] })
	return after.NumGC - before.NumGC, goals[len(goals)/2]
}

func main() {
	for _, g := range []int{50, 100, 200} {
		n, goal := cycles(g, 16)
		fmt.Printf("cycles_gogc%d=%d\n", g, n)
		fmt.Printf("heap_goal_mib_gogc%d=%.1f\n", g, float64(goal)/(1<<20))
	}
	n, goal := cycles(100, 64)
	fmt.Printf("cycles_live64_gogc100=%d\n", n)
	fmt.Printf("heap_goal_mib_live64_gogc100=%.1f\n", float64(goal)/(1<<20))
}
