// select_timeout: a consumer selects between a channel fed every 15 ms and time.After(10 ms),
// for 300 ms. After each value, the next one is 15 ms away, so the 10 ms timeout fires first
// and the value arrives 5 ms later: about as many timeouts as values (20 each).
//
// Comparison: received and timeouts each within ±2 of Go's.
package main

import (
	"fmt"
	"time"
)

func main() {
	c := make(chan int)
	go func() {
		for i := 0; ; i++ {
			time.Sleep(15 * time.Millisecond)
			c <- i
		}
	}()
	received, timeouts := 0, 0
	start := time.Now()
	for time.Since(start) < 300*time.Millisecond {
		select {
		case <-c:
			received++
		case <-time.After(10 * time.Millisecond):
			timeouts++
		}
	}
	fmt.Printf("received=%d\n", received)
	fmt.Printf("timeouts=%d\n", timeouts)
}
