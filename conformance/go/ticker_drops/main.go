// ticker_drops: a 10 ms ticker read by a consumer that sleeps 25 ms after each tick. The
// ticker's channel holds one tick; ticks that find it full are dropped. In 1 s the consumer
// receives about 1 + 990/25 ≈ 40 ticks, and each tick it receives (after the first) is the one
// buffered 5–15 ms before.
//
// Comparison: received within ±2 of Go's (median of 5 runs); staleness reported.
package main

import (
	"fmt"
	"sort"
	"time"
)

func run() (int, time.Duration) {
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	start := time.Now()
	n := 0
	var stale []time.Duration
	for time.Since(start) < time.Second {
		t := <-tk.C
		stale = append(stale, time.Since(t))
		n++
		time.Sleep(25 * time.Millisecond)
	}
	sort.Slice(stale, func(i, j int) bool { return stale[i] < stale[j] })
	return n, stale[len(stale)/2]
}

func main() {
	var ns []int
	var st []time.Duration
	for r := 0; r < 5; r++ {
		n, s := run()
		ns = append(ns, n)
		st = append(st, s)
	}
	sort.Ints(ns)
	sort.Slice(st, func(i, j int) bool { return st[i] < st[j] })
	fmt.Printf("received=%d\n", ns[2])
	fmt.Printf("stale_median_ms=%.1f\n", float64(st[2])/1e6)
}
