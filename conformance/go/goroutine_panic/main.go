// goroutine_panic: an unrecovered panic in a goroutine kills the program with exit status 2,
// printing the panic value and the panicking goroutine's id and state. With `os` imported (here
// through fmt, as in nearly every program) the first goroutine a program starts is goroutine 6:
// 1 is main, 2-5 are the runtime's own (without `os` there is no finalizer goroutine and it
// would be 5; the model assumes `os`).
//
// Run with GOMAXPROCS=1: goids come from per-P batches of 16, and with two Ps main is now and
// then on the second P when it starts the goroutine, which is then goroutine 18 (1 run in 5 on
// this machine).
//
// Comparison: exact.
package main

import (
	"fmt"
	"time"
)

func main() {
	c := make(chan int)
	close(c)
	go func() { close(c) }()
	time.Sleep(10 * time.Millisecond)
	fmt.Println("not reached")
}
