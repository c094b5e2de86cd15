// close: what close does to buffered values, to blocked receivers and senders, and the three
// panics (send on closed, close of closed, close of nil).
//
// Comparison: exact.
package main

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

func try(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return "no panic"
}

func main() {
	b := make(chan int, 3)
	b <- 1
	b <- 2
	close(b)
	var got []string
	for i := 0; i < 3; i++ {
		v, ok := <-b
		got = append(got, fmt.Sprintf("%d/%v", v, ok))
	}
	fmt.Printf("drain=%s\n", strings.Join(got, " "))

	c := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	woken := 0
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, ok := <-c; !ok {
				mu.Lock()
				woken++
				mu.Unlock()
			}
		}()
	}
	time.Sleep(2 * time.Millisecond)
	close(c)
	wg.Wait()
	fmt.Printf("receivers_woken=%d\n", woken)

	s := make(chan int)
	done := make(chan string)
	go func() { done <- try(func() { s <- 1 }) }()
	time.Sleep(2 * time.Millisecond)
	close(s)
	fmt.Printf("blocked_sender=%s\n", <-done)

	fmt.Printf("send_on_closed=%s\n", try(func() { s <- 1 }))
	fmt.Printf("close_closed=%s\n", try(func() { close(s) }))
	var n chan int
	fmt.Printf("close_nil=%s\n", try(func() { close(n) }))
}
