// calibrate: microbenchmarks of the runtime operations costream charges, on this machine.
// `costream calibrate` builds and runs it and writes what it prints as a costs file
// (docs/model.md, "Costs"). Each figure is the median of 5 rounds, in nanoseconds per
// operation; it prints `key=ns` lines.
package main

import (
	"fmt"
	"net"
	"runtime"
	"sort"
	"sync"
	"time"
)

// median of 5 rounds of f, which does n operations, in ns per operation.
func median(n int, f func(n int)) float64 {
	var v []float64
	for r := 0; r < 5; r++ {
		t := time.Now()
		f(n)
		v = append(v, float64(time.Since(t).Nanoseconds())/float64(n))
	}
	sort.Float64s(v)
	return v[2]
}

func main() {
	runtime.GOMAXPROCS(1)
	// go + exit of an empty goroutine, on one P.
	spawn := median(100000, func(n int) {
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() { wg.Done() }()
		}
		wg.Wait()
	})
	// Two goroutines calling Gosched in turn: one switch per call.
	gosched := median(200000, func(n int) {
		var wg sync.WaitGroup
		for g := 0; g < 2; g++ {
			wg.Add(1)
			go func() {
				for i := 0; i < n/2; i++ {
					runtime.Gosched()
				}
				wg.Done()
			}()
		}
		wg.Wait()
	})
	// A send and a receive on a buffered channel that never blocks.
	c := make(chan int, 1)
	chanPair := median(1000000, func(n int) {
		for i := 0; i < n; i++ {
			c <- i
			<-c
		}
	})
	// A 2-case select with both cases ready.
	// (Both channels stay full: the case taken is refilled, half a send-receive pair.)
	a, b := make(chan int, 1), make(chan int, 1)
	a <- 0
	b <- 0
	sel := median(1000000, func(n int) {
		for i := 0; i < n; i++ {
			select {
			case <-a:
				a <- i
			case <-b:
				b <- i
			}
		}
	}) - chanPair/2
	// Arming (and stopping) a timer.
	timer := median(200000, func(n int) {
		for i := 0; i < n; i++ {
			t := time.NewTimer(time.Hour)
			t.Stop()
		}
	})
	// Loopback UDP: a write, and a read of a datagram already queued.
	rc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		panic(err)
	}
	sc, err := net.DialUDP("udp", nil, rc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		panic(err)
	}
	msg, buf := make([]byte, 160), make([]byte, 2048)
	var wr, rd []float64
	for r := 0; r < 5; r++ {
		var w, d time.Duration
		for round := 0; round < 200; round++ {
			t0 := time.Now()
			for i := 0; i < 50; i++ {
				sc.Write(msg)
			}
			t1 := time.Now()
			for i := 0; i < 50; i++ {
				rc.ReadFromUDP(buf)
			}
			w += t1.Sub(t0)
			d += time.Since(t1)
		}
		wr = append(wr, float64(w.Nanoseconds())/10000)
		rd = append(rd, float64(d.Nanoseconds())/10000)
	}
	sort.Float64s(wr)
	sort.Float64s(rd)
	fmt.Printf("spawn=%.0f\n", spawn)
	fmt.Printf("gosched=%.0f\n", gosched)
	fmt.Printf("chan_pair=%.0f\n", chanPair)
	fmt.Printf("select2=%.0f\n", sel)
	fmt.Printf("timer=%.0f\n", timer)
	fmt.Printf("udp_write=%.0f\n", wr[2])
	fmt.Printf("udp_read=%.0f\n", rd[2])
}
