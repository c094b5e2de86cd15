// memory_limit: GOGC off and GOMEMLIMIT 64 MiB; 1 GiB allocated in 16 KiB objects over a
// 16 MiB live heap. With GOGC off only the limit triggers collection, so the heap stays under
// the limit and the cycle count is about 1 GiB / (limit − live − overheads).
//
// Comparison: cycles within ±25% of Go's; heap_under_limit exactly.
package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

var sink []byte

func main() {
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(64 << 20)
	live := make([][]byte, 1024)
	for i := range live {
		live[i] = make([]byte, 16<<10)
	}
	var before, after, m runtime.MemStats
	runtime.ReadMemStats(&before)
	maxHeap := uint64(0)
	for n := 0; n < 1<<30; n += 16 << 10 {
		sink = make([]byte, 16<<10)
		if n%(4<<20) == 0 {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > maxHeap {
				maxHeap = m.HeapAlloc
			}
		}
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(live)
	fmt.Printf("cycles=%d\n", after.NumGC-before.NumGC)
	fmt.Printf("heap_under_limit=%v\n", maxHeap <= 64<<20)
	fmt.Printf("max_heap_mib=%.1f\n", float64(maxHeap)/(1<<20))
}
