// deadlock: main blocks receiving while the only other goroutine sleeps 30 ms and returns.
// Sleeping is not a deadlock; once the sleeper has gone, every goroutine is blocked and the
// runtime dies with "all goroutines are asleep - deadlock!" and exit status 2, printing main's
// wait reason.
//
// Comparison: the fatal line, the wait reason and the exit status exactly (the harness adds
// exit= from the process status and takes the first line of stderr and the goroutine header).
package main

import "time"

func main() {
	c := make(chan int)
	go func() { time.Sleep(30 * time.Millisecond) }()
	<-c
}
