// tail_chan: from a channel send to the receiver running. A receiver blocks on an unbuffered
// channel; every 2 ms a sender sends it the time and then either sleeps ("idle": the
// receiver runs on the sender's P as soon as the sender parks) or spins 200 us ("busy": the
// receiver waits in the sender's runnext until another P's spinning thread steals it, or, on
// one P, until the sender parks). 500 sends each, at GOMAXPROCS 1 and 2 on the 2-CPU CI
// machine; P50 and P99 of the delay in microseconds.
//
// Comparison, set from the fidelity issue before the model's figures were seen: each P99
// within a factor of 1.5 of Go's, or within 20 us of it (a wake-up measured in
// microseconds); P50s shown.
package main

import (
	"fmt"
	"runtime"
	"sort"
	"time"
)

func spin(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
	}
}

func delays(busy bool) []float64 {
	c := make(chan time.Time)
	done := make(chan []float64)
	go func() {
		var lat []float64
		for t := range c {
			lat = append(lat, float64(time.Since(t))/1e3)
		}
		done <- lat
	}()
	for i := 0; i < 500; i++ {
		time.Sleep(2 * time.Millisecond)
		c <- time.Now()
		if busy {
			spin(200 * time.Microsecond)
		}
	}
	close(c)
	lat := <-done
	sort.Float64s(lat)
	return lat
}

func main() {
	for _, procs := range []int{1, 2} {
		runtime.GOMAXPROCS(procs)
		for _, mode := range []string{"idle", "busy"} {
			lat := delays(mode == "busy")
			fmt.Printf("p%d_%s_p50_us=%.0f\n", procs, mode, lat[len(lat)/2])
			fmt.Printf("p%d_%s_p99_us=%.0f\n", procs, mode, lat[len(lat)*99/100])
		}
	}
}
