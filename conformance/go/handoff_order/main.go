// handoff_order: with one P, an unbuffered send to a waiting receiver hands the value over
// and readies the receiver into runnext, but the sender keeps the P until it blocks; a
// receiver that finds a blocked sender takes its value and readies it. The interleaving of
// "sent" and "recv" records pins both paths of chansend/chanrecv.
//
// Run with GOMAXPROCS=1. Comparison: exact.
package main

import (
	"fmt"
	"runtime"
	"strings"
)

func main() {
	runtime.GOMAXPROCS(1)
	var log []string
	c := make(chan int)
	done := make(chan bool)
	go func() {
		for v := range c {
			log = append(log, fmt.Sprintf("recv%d", v))
		}
		done <- true
	}()
	runtime.Gosched() // the receiver runs and blocks in chanrecv
	for i := 0; i < 3; i++ {
		c <- i
		log = append(log, fmt.Sprintf("sent%d", i))
	}
	close(c)
	<-done
	fmt.Printf("order=%s\n", strings.Join(log, " "))
}
