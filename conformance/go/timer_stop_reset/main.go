// timer_stop_reset: Stop of a pending timer reports true and nothing is sent; Reset of a
// stopped timer reports false and re-arms it; Stop after the value was received reports
// false; time.AfterFunc runs its function once, in its own goroutine.
//
// Comparison: the booleans and counts exactly; fired_ms within ±3 ms of Go's (median of 5).
package main

import (
	"fmt"
	"sort"
	"time"
)

func main() {
	var fired []float64
	var stop1, reset, stop2, stale bool
	for r := 0; r < 5; r++ {
		t := time.NewTimer(50 * time.Millisecond)
		time.Sleep(10 * time.Millisecond)
		stop1 = t.Stop()
		start := time.Now()
		reset = t.Reset(20 * time.Millisecond)
		<-t.C
		fired = append(fired, float64(time.Since(start))/1e6)
		stop2 = t.Stop()
		select {
		case <-t.C:
			stale = true
		default:
			stale = false
		}
	}
	sort.Float64s(fired)
	fmt.Printf("stop_pending=%v\n", stop1)
	fmt.Printf("reset_stopped=%v\n", reset)
	fmt.Printf("stop_after_receive=%v\n", stop2)
	fmt.Printf("stale_value=%v\n", stale)
	fmt.Printf("fired_ms=%.0f\n", fired[2])

	done := make(chan int, 10)
	calls := 0
	time.AfterFunc(5*time.Millisecond, func() { calls++; done <- calls })
	<-done
	time.Sleep(20 * time.Millisecond)
	fmt.Printf("afterfunc_calls=%d\n", calls)
}
