package main

import "testing"

// A full queue keeps the newest packets: enqueue drops the oldest to make room.
func TestEnqueueDropsTheOldest(t *testing.T) {
	q := make(chan []byte, 2)
	before := dropped.Load()
	for i := byte(0); i < 5; i++ {
		enqueue(q, []byte{i})
	}
	if got := dropped.Load() - before; got != 3 {
		t.Fatalf("dropped %d, want 3", got)
	}
	if a, b := (<-q)[0], (<-q)[0]; a != 3 || b != 4 {
		t.Fatalf("queue holds %d, %d; want the newest: 3, 4", a, b)
	}
}

func TestParseRoutes(t *testing.T) {
	r, err := parseRoutes([]string{"1=127.0.0.1:6001", "1=127.0.0.1:6002", "2=127.0.0.1:6003"}, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(r[1]) != 2 || len(r[2]) != 1 || cap(r[1][0].q) != 8 {
		t.Fatalf("routes %v", r)
	}
	if _, err := parseRoutes([]string{"x=127.0.0.1:1"}, 8); err == nil {
		t.Fatal("a bad SSRC is accepted")
	}
}
