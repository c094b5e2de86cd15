// fifo: goroutines blocked on an unbuffered channel are served first-come first-served, both
// senders (recvq/sendq are FIFO) and receivers. Each goroutine is started and given 2 ms to
// block before the next one starts.
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
	c := make(chan int)
	for i := 0; i < 5; i++ {
		go func(i int) { c <- i }(i)
		time.Sleep(2 * time.Millisecond)
	}
	var got []string
	for i := 0; i < 5; i++ {
		got = append(got, fmt.Sprint(<-c))
	}
	fmt.Printf("senders=%s\n", strings.Join(got, " "))

	var mu sync.Mutex
	var wg sync.WaitGroup
	pairs := make([]string, 5)
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v := <-c
			mu.Lock()
			pairs[i] = fmt.Sprintf("%d:%d", i, v)
			mu.Unlock()
		}(i)
		time.Sleep(2 * time.Millisecond)
	}
	for v := 100; v < 105; v++ {
		c <- v
	}
	wg.Wait()
	fmt.Printf("receivers=%s\n", strings.Join(pairs, " "))
}
