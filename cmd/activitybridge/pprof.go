//go:build pprof

package main

import (
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
)

// A binary built with -tags pprof (the load benchmark's -cpuprofile builds one) serves net/http/pprof on
// ACTIVITYBRIDGE_PPROF_ADDR, for profiling under load. Release builds do not contain this file.
func init() {
	if addr := os.Getenv("ACTIVITYBRIDGE_PPROF_ADDR"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
