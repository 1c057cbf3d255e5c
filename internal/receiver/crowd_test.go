package receiver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// crowding is the attack of issue 12: many connections from one address declare a large body, send a
// burst, then trickle a byte now and then, reconnecting whenever they are cut off; meanwhile correctly
// signed webhooks arrive, from another address and from the attacker's own (a shared proxy or egress).
type crowding struct {
	conns     int           // attacking connections
	declared  int           // Content-Length they declare
	burst     int           // bytes each sends at once
	trickle   time.Duration // then trickleN bytes (at least 1) every trickle
	trickleN  int
	signature string // the attackers' X-JWS-Signature ("" sends none)

	honest      [][]byte      // the signed bodies sent in turn, each every honestEvery
	honestEvery time.Duration // from each honest address
	duration    time.Duration
}

// crowdResult is what the signed webhooks got.
type crowdResult struct {
	statuses  map[int]int
	refusals  []string // from and why, of the first few refused
	latencies []time.Duration
	attacks   int // connections the attackers opened
}

func (r crowdResult) String() string {
	slices.Sort(r.latencies)
	var p50, worst time.Duration
	if n := len(r.latencies); n > 0 {
		p50, worst = r.latencies[n/2], r.latencies[n-1]
	}
	return fmt.Sprintf("signed webhooks: %v; latency p50 %s, max %s; attacking connections opened: %d; refused: %q",
		r.statuses, p50.Round(time.Millisecond), worst.Round(time.Millisecond), r.attacks, r.refusals)
}

// dialFrom returns a dialer whose connections come from the loopback address ip (127.0.0.0/8 is all
// local on Linux), so that one test can play several client addresses.
func dialFrom(ip string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
}

// run plays the attack against addr; the attackers come from 127.0.0.2, the honest senders from
// 127.0.0.3 and from 127.0.0.2 too.
func (c crowding) run(tb testing.TB, addr string, sign func([]byte) string) crowdResult {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.duration)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	res := crowdResult{statuses: map[int]int{}}

	head := fmt.Sprintf("POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", c.declared)
	if c.signature != "" {
		head += SignatureHeader + ": " + c.signature + "\r\n"
	}
	head += "\r\n"
	burst := append([]byte(head), bytes.Repeat([]byte{' '}, c.burst)...)
	attacker := dialFrom("127.0.0.2")
	for range c.conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				conn, err := attacker.DialContext(ctx, "tcp", addr)
				if err != nil {
					continue
				}
				mu.Lock()
				res.attacks++
				mu.Unlock()
				stop := context.AfterFunc(ctx, func() { conn.Close() })
				if _, err := conn.Write(burst); err == nil {
					for ctx.Err() == nil {
						select {
						case <-ctx.Done():
						case <-time.After(c.trickle):
						}
						if _, err := conn.Write(bytes.Repeat([]byte{' '}, max(c.trickleN, 1))); err != nil {
							break
						}
					}
				}
				stop()
				conn.Close()
			}
		})
	}

	for _, from := range []string{"127.0.0.3", "127.0.0.2"} {
		hc := &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{DialContext: dialFrom(from).DialContext, DisableKeepAlives: true}}
		wg.Go(func() {
			defer hc.CloseIdleConnections()
			tick := time.NewTicker(c.honestEvery)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				body := c.honest[i%len(c.honest)]
				wg.Go(func() {
					req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhook", bytes.NewReader(body))
					req.Header.Set(SignatureHeader, sign(body))
					t0 := time.Now()
					resp, err := hc.Do(req)
					status, why := 0, ""
					if err == nil {
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						status, why = resp.StatusCode, string(bytes.TrimSpace(b))
					} else {
						why = err.Error()
					}
					mu.Lock()
					if status != http.StatusAccepted && len(res.refusals) < 5 {
						res.refusals = append(res.refusals, fmt.Sprintf("%s after %s: %d %s", from, time.Since(t0).Round(time.Millisecond), status, why))
					}
					res.statuses[status]++
					res.latencies = append(res.latencies, time.Since(t0))
					mu.Unlock()
				})
			}
		})
	}
	wg.Wait()
	return res
}

// honestBody is a signed-size activity body of about n bytes.
func honestBody(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"id":"honest","type":"environment.push","project":"p","log":"`)
	b.WriteString(strings.Repeat("x", max(n-b.Len()-2, 0)))
	b.WriteString(`"}`)
	return b.Bytes()
}

// startCrowdServer serves a handler with key "k" and accept on a real loopback listener.
func startCrowdServer(tb testing.TB, opts Options, fair *fairness) (addr string, sign func([]byte) string) {
	tb.Helper()
	opts.SharedKey = "k"
	accept := func(context.Context, []byte) (string, int, error) { return "honest", 1, nil }
	h, err := NewHandler(opts, accept, zerolog.Nop(), nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if fair != nil {
		hh := h.(*handler)
		hh.mem = newBudget(hh.opts.BodyMemory, *fair)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := NewServer(ln.Addr().String(), h)
	go srv.Serve(ln)
	tb.Cleanup(func() {
		srv.Close()
		if _, ok := tb.(*testing.B); ok {
			time.Sleep(time.Second) // closed connections linger up to 500 ms in net/http; goleak would see them
		}
	})
	return ln.Addr().String(), func(body []byte) string { return jws(goodHeaderJSON, []byte("k"), body) }
}

// TestCrowdingAttack is issue 12's attack at a smaller scale and a faster clock (a 4 MiB budget, a 1 s
// idle limit, fairness windows of 200 ms, and a 1 s wait for memory): however the attackers sign (not at all, or well-formed with the
// wrong key), every correctly signed webhook is accepted, from another address or from theirs.
func TestCrowdingAttack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an attack for a few seconds")
	}
	wrongKey := jws(goodHeaderJSON, []byte("wrong"), []byte("x"))
	for _, tt := range []struct {
		name, signature string
		trickleN        int
	}{
		{"no signature", "", 1},
		{"well-formed signature with the wrong key", wrongKey, 1},
		{"wrong key, trickling above the minimum rate", wrongKey, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each attacks its own server
			// A signed webhook that waits a second for memory is answered 503, and fails the test.
			opts := Options{MaxBody: 256 << 10, BodyMemory: 4 << 20, BodyIdle: time.Second,
				BodyGrace: 500 * time.Millisecond, BodyWait: time.Second}
			fair := fairness{window: 200 * time.Millisecond, slowBytes: 16 << 10, minAge: 100 * time.Millisecond,
				fairAfter: 100 * time.Millisecond}
			addr, sign := startCrowdServer(t, opts, &fair)
			res := crowding{conns: 60, declared: 250 << 10, burst: 64 << 10, trickle: 300 * time.Millisecond,
				trickleN: tt.trickleN, signature: tt.signature, honest: [][]byte{honestBody(100 << 10), honestBody(14 << 10)},
				honestEvery: 100 * time.Millisecond, duration: 2 * time.Second}.run(t, addr, sign)
			t.Log(res)
			if res.statuses[http.StatusAccepted] == 0 || len(res.statuses) != 1 {
				t.Errorf("%s; want every one accepted (202)", res)
			}
		})
	}
}

// crowdDuration is how long BenchmarkCrowding attacks.
var crowdDuration = 40 * time.Second

// BenchmarkCrowding is issue 12's attack at full scale against the default options (128 MiB of body
// memory, 32 MiB bodies): 200 connections declare 33,554,000 bytes, send 1 MiB, then one byte every 8 s,
// reconnecting when cut off, while signed webhooks of 1.3 MB and 14 KB arrive every 300 ms from another
// address and from the attackers' own. It reports how many of those were accepted and how long they
// waited (ms). Run it with -benchtime=1x; it lasts 40 s.
func BenchmarkCrowding(b *testing.B) {
	for _, bb := range []struct{ name, signature string }{
		{"unsigned", ""},
		{"wrong-key", jws(goodHeaderJSON, []byte("wrong"), []byte("x"))},
	} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				addr, sign := startCrowdServer(b, Options{}, nil)
				res := crowding{conns: 200, declared: 33554000, burst: 1 << 20, trickle: 8 * time.Second,
					signature: bb.signature, honest: [][]byte{honestBody(1_300_000), honestBody(14_000)},
					honestEvery: 300 * time.Millisecond, duration: crowdDuration}.run(b, addr, sign)
				b.Log(res)
				total := 0
				for _, n := range res.statuses {
					total += n
				}
				slices.Sort(res.latencies)
				b.ReportMetric(float64(res.statuses[http.StatusAccepted])/float64(max(total, 1)), "accepted/op")
				if n := len(res.latencies); n > 0 {
					b.ReportMetric(float64(res.latencies[n/2].Milliseconds()), "p50-ms")
					b.ReportMetric(float64(res.latencies[n-1].Milliseconds()), "max-ms")
				}
			}
		})
	}
}
