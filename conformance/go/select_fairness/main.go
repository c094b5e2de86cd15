// select_fairness: a select over three always-ready channels picks uniformly (selectgo
// shuffles its poll order with cheaprand). 30,000 selects; a χ² test against the uniform
// distribution with 2 degrees of freedom at p = 0.001 (critical value 13.816).
//
// Comparison: uniform must be "true" on both arms (exact); the counts and χ² are reported.
package main

import "fmt"

func main() {
	const n = 30000
	cs := []chan int{make(chan int, 1), make(chan int, 1), make(chan int, 1)}
	for _, c := range cs {
		c <- 0
	}
	var count [3]int
	for i := 0; i < n; i++ {
		select {
		case <-cs[0]:
			count[0]++
			cs[0] <- 0
		case <-cs[1]:
			count[1]++
			cs[1] <- 0
		case <-cs[2]:
			count[2]++
			cs[2] <- 0
		}
	}
	chi2 := 0.0
	for _, k := range count {
		d := float64(k) - n/3.0
		chi2 += d * d / (n / 3.0)
	}
	fmt.Printf("counts=%d %d %d\n", count[0], count[1], count[2])
	fmt.Printf("chi2=%.2f\n", chi2)
	fmt.Printf("uniform=%v\n", chi2 < 13.816)
}
