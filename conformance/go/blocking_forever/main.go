// blocking_forever: what checkdead prints for the ways main can block forever: a receive on a
// nil channel, a send on a nil channel, an empty select, and a WaitGroup nobody releases. The
// program re-runs itself once per case (the model runs one simulation per case) and reports
// each child's exit status, fatal line and goroutine 1's wait reason.
//
// Comparison: exact, except the WaitGroup's wait reason, which is reported: Go 1.19 parks
// WaitGroup.Wait as "semacquire"; Go 1.24 added waitReasonSyncWaitGroupWait
// ("sync.WaitGroup.Wait"), which the model follows.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
)

func run(c string) {
	switch c {
	case "recv_nil":
		var c chan int
		<-c
	case "send_nil":
		var c chan int
		c <- 1
	case "select_empty":
		select {}
	case "waitgroup":
		var wg sync.WaitGroup
		wg.Add(1)
		wg.Wait()
	}
}

func main() {
	if len(os.Args) > 1 {
		run(os.Args[1])
		return
	}
	for _, c := range []string{"recv_nil", "send_nil", "select_empty", "waitgroup"} {
		var stderr bytes.Buffer
		cmd := exec.Command(os.Args[0], c)
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		fatal, wait := "", ""
		for _, l := range strings.Split(stderr.String(), "\n") {
			if strings.HasPrefix(l, "fatal error: ") {
				fatal = strings.TrimPrefix(l, "fatal error: ")
			}
			if strings.HasPrefix(l, "goroutine 1 [") {
				wait = strings.TrimSuffix(strings.TrimPrefix(l, "goroutine 1 ["), "]:")
			}
		}
		fmt.Printf("%s_exit=%d\n%s_fatal=%s\n%s_wait=%s\n", c, code, c, fatal, c, wait)
	}
}
