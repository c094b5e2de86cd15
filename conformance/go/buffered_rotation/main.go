// buffered_rotation: a full buffered channel with blocked senders. A receive takes the oldest
// buffered value and moves the first blocked sender's value into the freed slot (chanrecv's
// "queue is full" case), so values come out in send order: buffer first, then senders FIFO.
// len(c) stays at the capacity while senders wait.
//
// Comparison: exact.
package main

import (
	"fmt"
	"strings"
	"time"
)

func main() {
	c := make(chan int, 2)
	c <- 0
	c <- 1
	for i := 2; i < 5; i++ {
		go func(i int) { c <- i }(i)
		time.Sleep(time.Millisecond)
	}
	var got, lens []string
	for i := 0; i < 5; i++ {
		lens = append(lens, fmt.Sprint(len(c)))
		got = append(got, fmt.Sprint(<-c))
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("order=%s\n", strings.Join(got, " "))
	fmt.Printf("len_before_each=%s\n", strings.Join(lens, " "))
}
