// runtime_api: runtime.GOMAXPROCS returns the previous setting (0 only reads it);
// runtime.NumGoroutine counts the program's goroutines, not the runtime's own (finalizer,
// sweeper, scavenger, forced-GC helper); a WaitGroup counter below zero panics.
//
// Run with GOMAXPROCS=2. Comparison: exact.
package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

func main() {
	fmt.Printf("gomaxprocs_prev=%d\n", runtime.GOMAXPROCS(4))
	fmt.Printf("gomaxprocs_read=%d\n", runtime.GOMAXPROCS(0))
	fmt.Printf("numgoroutine_start=%d\n", runtime.NumGoroutine())
	c := make(chan int)
	for i := 0; i < 3; i++ {
		go func() { <-c }()
	}
	time.Sleep(time.Millisecond)
	fmt.Printf("numgoroutine_blocked=%d\n", runtime.NumGoroutine())
	close(c)
	time.Sleep(time.Millisecond)
	fmt.Printf("numgoroutine_after=%d\n", runtime.NumGoroutine())
	func() {
		defer func() { fmt.Printf("waitgroup_negative=%v\n", recover()) }()
		var wg sync.WaitGroup
		wg.Done()
	}()
}
