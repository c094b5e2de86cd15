// waitgroup_wake: three goroutines block in WaitGroup.Wait, in a known order; the last Done
// releases the semaphore once per waiter (semrelease, FIFO queue), and each release readies
// its waiter into runnext, pushing the previous one to the run queue. With one P they resume
// last-released first, then in release order.
//
// Run with GOMAXPROCS=1. Comparison: exact.
package main

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
)

func main() {
	runtime.GOMAXPROCS(1)
	var wg, all sync.WaitGroup
	wg.Add(1)
	var order []string
	for i := 0; i < 3; i++ {
		all.Add(1)
		go func(i int) {
			defer all.Done()
			wg.Wait()
			order = append(order, fmt.Sprint(i))
		}(i)
		time.Sleep(time.Millisecond)
	}
	wg.Done()
	all.Wait()
	fmt.Printf("order=%s\n", strings.Join(order, " "))
}
