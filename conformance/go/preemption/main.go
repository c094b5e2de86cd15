// preemption: with one P, a goroutine spins in a loop without function calls while main
// sleeps 1 ms. Main's timer can only run when the spinner is preempted: sysmon asks for
// asynchronous preemption once a goroutine has run 10 ms (forcePreemptNS), so main wakes
// about 10 ms late.
//
// Run with GOMAXPROCS=1. Comparison: late_ms within [5, 25] on both arms (median of 7); the
// exact figure is reported.
package main

import (
	"fmt"
	"runtime"
	"sort"
	"sync/atomic"
	"time"
)

var sink int

func main() {
	runtime.GOMAXPROCS(1)
	var late []float64
	for r := 0; r < 7; r++ {
		var stop atomic.Bool // an atomic load is not a call: the loop has no safe point
		go func() {
			x := 0
			for !stop.Load() {
				x++
			}
			sink = x
		}()
		runtime.Gosched() // let the spinner take the P
		start := time.Now()
		time.Sleep(time.Millisecond)
		late = append(late, float64(time.Since(start)-time.Millisecond)/1e6)
		stop.Store(true)
		time.Sleep(20 * time.Millisecond)
	}
	sort.Float64s(late)
	fmt.Printf("late_ms=%.1f\n", late[3])
	fmt.Printf("late_in_range=%v\n", late[3] >= 5 && late[3] <= 25)
}
