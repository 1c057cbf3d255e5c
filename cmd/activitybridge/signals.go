package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// drainContext returns a context that ends at the first SIGTERM or SIGINT, which starts the graceful
// drain. A second one during the drain ends the process at once with status 128 + the signal's number
// (143 for SIGTERM, 130 for SIGINT), as users of Ctrl-C and `kill` expect: what was accepted stays
// persisted and is sent at the next start. stop releases the signals.
func drainContext(stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			name, code := "SIGINT", 128+int(syscall.SIGINT)
			if s == syscall.SIGTERM {
				name, code = "SIGTERM", 128+int(syscall.SIGTERM)
			}
			fmt.Fprintf(stderr, "activitybridge serve: second %s during the shutdown: exiting now; accepted notices stay queued for the next start\n", name)
			os.Exit(code)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}
