// relay is a small SFU: publishers send RTP over UDP to one port; one goroutine reads every
// datagram, looks up the stream's subscribers by the RTP header's SSRC, and queues a copy for
// each in the subscriber's own bounded channel; one writer goroutine per subscriber sends
// them on. A full queue drops its oldest packet: a slow subscriber loses old packets, never
// blocks the reader, and never delays the other subscribers.
//
// costream's model of this program is examples/custom-sfu/src/lib.rs; docs/custom-server.md
// walks through the two side by side.
//
//	go run . -listen :5000 -queue 64 -sub 1=127.0.0.1:6001 -sub 1=127.0.0.1:6002
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// subscriber is one receiver of one stream: where its packets go, and its queue.
type subscriber struct {
	addr *net.UDPAddr
	q    chan []byte
}

var forwarded, dropped atomic.Uint64

// subs collects the repeated -sub SSRC=HOST:PORT flags.
type subs []string

func (s *subs) String() string     { return strings.Join(*s, ",") }
func (s *subs) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	listen := flag.String("listen", ":5000", "UDP address publishers send RTP to")
	queue := flag.Int("queue", 64, "packets queued per subscriber before the oldest is dropped")
	var sub subs
	flag.Var(&sub, "sub", "a subscriber: SSRC=HOST:PORT (repeatable)")
	flag.Parse()

	addr, err := net.ResolveUDPAddr("udp", *listen)
	if err != nil {
		log.Fatalf("-listen %q: %v", *listen, err)
	}
	conn, err := net.ListenUDP("udp", addr)
	if err != nil {
		log.Fatal(err)
	}
	routes, err := parseRoutes(sub, *queue)
	if err != nil {
		log.Fatal(err)
	}
	for _, list := range routes {
		for _, s := range list {
			go writeLoop(conn, s)
		}
	}
	go report()
	readLoop(conn, routes)
}

// parseRoutes builds the SSRC → subscribers table from the -sub flags.
func parseRoutes(flags []string, queue int) (map[uint32][]*subscriber, error) {
	routes := map[uint32][]*subscriber{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("-sub %q: want SSRC=HOST:PORT", f)
		}
		ssrc, err := strconv.ParseUint(k, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("-sub %q: SSRC: %v", f, err)
		}
		a, err := net.ResolveUDPAddr("udp", v)
		if err != nil {
			return nil, fmt.Errorf("-sub %q: %v", f, err)
		}
		routes[uint32(ssrc)] = append(routes[uint32(ssrc)], &subscriber{a, make(chan []byte, queue)})
	}
	return routes, nil
}

// readLoop reads every datagram and queues a copy for each subscriber of its stream.
func readLoop(conn *net.UDPConn, routes map[uint32][]*subscriber) {
	buf := make([]byte, 1500)
	for {
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			log.Fatal(err)
		}
		if n < 12 {
			continue // shorter than an RTP header
		}
		ssrc := binary.BigEndian.Uint32(buf[8:12])
		for _, s := range routes[ssrc] {
			p := make([]byte, n)
			copy(p, buf[:n])
			enqueue(s.q, p)
		}
	}
}

// enqueue never blocks: when q is full it drops the oldest packet to make room.
func enqueue(q chan []byte, p []byte) {
	select {
	case q <- p:
		return
	default:
	}
	select {
	case <-q:
		dropped.Add(1)
	default: // the writer took one meanwhile
	}
	select {
	case q <- p:
	default:
		dropped.Add(1)
	}
}

// writeLoop sends one subscriber's packets, in order.
func writeLoop(conn *net.UDPConn, s *subscriber) {
	for p := range s.q {
		if _, err := conn.WriteToUDP(p, s.addr); err != nil {
			log.Print(err)
			continue
		}
		forwarded.Add(1)
	}
}

// report logs the counters once a second.
func report() {
	for range time.Tick(time.Second) {
		log.Printf("forwarded %d dropped %d", forwarded.Load(), dropped.Load())
	}
}
