// gosched_order: with one P, three goroutines that each record their id and call
// runtime.Gosched three times. Gosched puts the caller on the global run queue; the local
// queue is served first, and an empty local queue takes a batch from the global one.
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
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for k := 0; k < 3; k++ {
				order = append(order, fmt.Sprint(i))
				runtime.Gosched()
			}
		}(i)
	}
	wg.Wait()
	fmt.Printf("order=%s\n", strings.Join(order, " "))
}
