package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// result is what one target did in one round.
type result struct {
	elapsed   time.Duration
	latencies []time.Duration // of the 202 answers
	statuses  map[int]int
}

func (r result) rps() float64 { return float64(len(r.latencies)) / r.elapsed.Seconds() }

func (r result) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	l := slices.Clone(r.latencies)
	slices.Sort(l)
	return l[min(len(l)-1, int(q*float64(len(l))))]
}

// String prints accepted requests per second, p50 and p99 latency, and any answer that was not a 202.
func (r result) String() string {
	var other []string
	codes := make([]int, 0, len(r.statuses))
	for c := range r.statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		if c != 202 {
			other = append(other, fmt.Sprintf("%d×%d", r.statuses[c], c))
		}
	}
	s := fmt.Sprintf("%8.1f req/s  p50 %7.2f ms  p99 %7.2f ms  (%d accepted in %.1fs)",
		r.rps(), ms(r.quantile(0.50)), ms(r.quantile(0.99)), len(r.latencies), r.elapsed.Seconds())
	if len(other) > 0 {
		s += "  other answers: " + strings.Join(other, " ")
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// merge adds up rounds: total accepted over total time, latency quantiles over all requests.
func merge(rs []result) result {
	out := result{statuses: map[int]int{}}
	for _, r := range rs {
		out.elapsed += r.elapsed
		out.latencies = append(out.latencies, r.latencies...)
		for c, n := range r.statuses {
			out.statuses[c] += n
		}
	}
	return out
}
