// start_order: with one P, the goroutine started last runs first (it sits in runnext), then
// the others in the order they were started (the local run queue is FIFO).
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
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			mu.Lock()
			order = append(order, fmt.Sprint(i))
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	fmt.Printf("order=%s\n", strings.Join(order, " "))
}
