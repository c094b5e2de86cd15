// sleep_order: goroutines started 1 ms apart sleep 30, 10, 20, 10 and 5 ms; each records
// itself when it wakes. Timers fire in `when` order, so they wake by start time plus sleep.
//
// Comparison: exact.
package main

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

func main() {
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	for i, d := range []int{30, 10, 20, 10, 5} {
		wg.Add(1)
		go func(i, d int) {
			defer wg.Done()
			time.Sleep(time.Duration(d) * time.Millisecond)
			mu.Lock()
			order = append(order, fmt.Sprint(i))
			mu.Unlock()
		}(i, d)
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	fmt.Printf("order=%s\n", strings.Join(order, " "))
}
