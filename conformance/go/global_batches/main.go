// global_batches: with one P, eight goroutines each record their id and call Gosched four
// times. Every Gosched goes to the global queue; when the local queue is empty the scheduler
// takes a batch from it (globrunqget: min(len, len/GOMAXPROCS + 1, 128), one to run and the
// rest to the local queue), and every 61st schedule takes one from it first.
//
// Run with GOMAXPROCS=1. Comparison: exact.
package main

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
)

func main() {
	runtime.GOMAXPROCS(1)
	var order []string
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for k := 0; k < 4; k++ {
				order = append(order, fmt.Sprint(i))
				runtime.Gosched()
			}
		}(i)
	}
	wg.Wait()
	fmt.Printf("order=%s\n", strings.Join(order, " "))
}
