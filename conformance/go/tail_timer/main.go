// tail_timer: where a ticker's wake-up time goes. N goroutines, each with its own 20 ms
// ticker (spread evenly over the period), spend 500 us of CPU per tick for 2 s; the delay
// from each tick's due time to its goroutine running, as P50 and P99 in microseconds, at
// GOMAXPROCS 1 and 2 (on the 2-CPU CI machine), for N = 1, 10 and 30. The delay is the timer
// firing late (epoll_wait's millisecond timeout) plus the wait to run (other goroutines
// ahead on its P, and the P's thread waiting for a CPU).
//
// Comparison, set from the fidelity issue before the model's figures were seen: each P99
// within a factor of 1.5 of Go's; P50s shown.
package main

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"
)

func spin(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
	}
}

func delays(n int) []float64 {
	var mu sync.Mutex
	var lat []float64
	var wg sync.WaitGroup
	start := time.Now()
	for s := 0; s < n; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			time.Sleep(time.Until(start.Add(time.Duration(s) * 20 * time.Millisecond / time.Duration(n))))
			first := time.Now()
			tk := time.NewTicker(20 * time.Millisecond)
			var mine []float64
			for k := 1; ; k++ {
				<-tk.C
				now := time.Now()
				due := first.Add(time.Duration(k) * 20 * time.Millisecond)
				mine = append(mine, float64(now.Sub(due))/1e3)
				spin(500 * time.Microsecond)
				if now.Sub(start) > 2*time.Second {
					break
				}
			}
			tk.Stop()
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(s)
	}
	wg.Wait()
	sort.Float64s(lat)
	return lat
}

func main() {
	for _, procs := range []int{1, 2} {
		runtime.GOMAXPROCS(procs)
		for _, n := range []int{1, 10, 30} {
			lat := delays(n)
			fmt.Printf("p%d_n%d_p50_us=%.0f\n", procs, n, lat[len(lat)/2])
			fmt.Printf("p%d_n%d_p99_us=%.0f\n", procs, n, lat[len(lat)*99/100])
		}
	}
}
