// runq_overflow: with one P, main starts 300 goroutines without yielding. Each `go` puts the
// new goroutine in runnext and the previous one at the tail of the 256-slot local run queue;
// when that is full, runqputslow moves half of it (128) and the newcomer to the global queue.
// Then main blocks and the scheduler drains runnext, the local queue and the global queue
// (in batches, globrunqget). The order the goroutines run in pins all three.
//
// Run with GOMAXPROCS=1. Comparison: exact, on the first 20 ids, the positions of 128 and 299
// and the last id; goroutine 0's position within ±3, because the real arm itself gives 117 or
// 118 from run to run (the every-61st-schedule global check counts schedules the runtime's own
// goroutines made before main).
package main

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
)

func main() {
	runtime.GOMAXPROCS(1)
	var order []int
	var wg sync.WaitGroup
	for i := 0; i < 300; i++ {
		wg.Add(1)
		go func(i int) {
			order = append(order, i)
			wg.Done()
		}(i)
	}
	wg.Wait()
	var first []string
	for _, v := range order[:20] {
		first = append(first, fmt.Sprint(v))
	}
	fmt.Printf("first20=%s\n", strings.Join(first, " "))
	// Position in the run order of goroutine 0 (it went to the global queue) and of 128.
	pos := map[int]int{}
	for k, v := range order {
		pos[v] = k
	}
	fmt.Printf("pos0=%d\n", pos[0])
	fmt.Printf("pos128=%d\n", pos[128])
	fmt.Printf("pos299=%d\n", pos[299])
	fmt.Printf("last=%d\n", order[len(order)-1])
}
