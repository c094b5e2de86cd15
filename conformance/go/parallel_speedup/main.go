// parallel_speedup: eight goroutines each do 20 ms of CPU work (a loop calibrated on this
// machine first), at GOMAXPROCS 1 and 2. Idle Ps steal from the busy one (findRunnable,
// runqsteal), so the makespan is about 8 × 20 ms / GOMAXPROCS: 160 ms, then 80 ms.
//
// Comparison: each makespan within ±20% of Go's; the speedup within ±0.3.
package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

var sink uint64

func work(n int) {
	x := uint64(1)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	sink += x
}

func makespan(p, n int) float64 {
	runtime.GOMAXPROCS(p)
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(n)
		}()
	}
	wg.Wait()
	return float64(time.Since(start)) / 1e6
}

func main() {
	// Iterations per 20 ms, the best of five 100 ms measurements.
	best := 0
	for r := 0; r < 5; r++ {
		n := 0
		start := time.Now()
		for time.Since(start) < 100*time.Millisecond {
			work(10000)
			n += 10000
		}
		if n > best {
			best = n
		}
	}
	n := best / 5
	p1 := makespan(1, n)
	p2 := makespan(2, n)
	fmt.Printf("makespan_ms_p1=%.0f\n", p1)
	fmt.Printf("makespan_ms_p2=%.0f\n", p2)
	fmt.Printf("speedup=%.2f\n", p1/p2)
}
