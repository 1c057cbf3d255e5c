package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/internal/config"
	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/internal/loadtest/signed"
	"github.com/activitybridge/activitybridge/internal/receiver"
	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

// benchKey is the shared key of the benchmarks; it is valid base64url, so the bridge verifies with the
// decoded form (the first one it tries).
const benchKey = "YWN0aXZpdHlicmlkZ2UtYmVuY2gta2V5LTAwMDE"

// benchSeq makes activity ids unique across every benchmark of the process.
var benchSeq atomic.Uint64

// benchApp builds the service as `serve` does (config from BRIDGE_* variables, bolt store in a temp dir, one
// slack-webhook destination whose URL is a closed port: the worker is not started, so nothing is sent) and
// returns its webhook handler.
func benchApp(b *testing.B) http.Handler {
	b.Helper()
	b.Setenv("BRIDGE_SHARED_KEY", benchKey)
	b.Setenv("BRIDGE_DATA_DIR", b.TempDir())
	b.Setenv("BRIDGE_STORE", "bolt")
	b.Setenv("BRIDGE_ROUTES", "abcdefgh1234567/* -> slack-webhook:bench")
	b.Setenv("BRIDGE_SLACK_WEBHOOKS", "bench=http://127.0.0.1:9/hook")
	cfg, err := config.Load()
	if err != nil {
		b.Fatal(err)
	}
	a, err := New(cfg, zerolog.Nop(), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.store.Close() })
	h, err := receiver.NewHandler(receiver.Options{
		SharedKey: cfg.SharedKey.Value(),
		MaxBody:   int64(cfg.MaxBody),
		Ready:     a.ready,
	}, a.Accept, zerolog.Nop(), prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// bareHandler is the floor: read the body, answer 202.
var bareHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
})

// BenchmarkWebhook runs POST /webhook in process on the 14 KB documentation push and the ~1.3 MB push-big,
// through the whole service handler (signature, decode, route, render, bolt group commit with fsync) and
// through bareHandler, with the same requests (a fresh activity id each, signed). The requests run from
// 16 goroutines per CPU, as concurrent clients would; the bolt commit is shared by concurrent Enqueues.
// Compare bridge with bare of the same body: the load program (internal/loadtest) measures the same ratio
// over real sockets.
func BenchmarkWebhook(b *testing.B) {
	for _, name := range []string{"environment.push", "push-big"} {
		body, err := signed.New(name, benchKey)
		if err != nil {
			b.Fatal(err)
		}
		for _, kind := range []string{"bridge", "bare"} {
			b.Run(name+"/"+kind, func(b *testing.B) {
				h := http.Handler(bareHandler)
				if kind == "bridge" {
					h = benchApp(b)
				}
				b.SetBytes(int64(body.Len(16)))
				b.ReportAllocs()
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						rd, n, sig := body.Next(fmt.Sprintf("%016x", benchSeq.Add(1)))
						r := httptest.NewRequest(http.MethodPost, "/webhook", rd)
						r.ContentLength = n
						r.Header.Set(signed.Header, sig)
						w := httptest.NewRecorder()
						h.ServeHTTP(w, r)
						if w.Code != http.StatusAccepted {
							b.Errorf("status %d, want 202: %s", w.Code, strings.TrimSpace(w.Body.String()))
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkBurstDrain accepts a burst of notices for 20 slack-webhook destinations on the fake Slack, which
// enforces Slack's documented rate (1 message per second per webhook, bursts of 3), and lets the worker deliver
// them. It fails on any lost or extra delivery and reports the steady drain rate of the
// slowest and fastest destination (the messages after the burst, over the time they took) next to the pace,
// 1/s, and how many sends were answered 429. One iteration takes about (perDest-3) seconds: run it with -benchtime=1x.
func BenchmarkBurstDrain(b *testing.B) {
	const (
		dests   = 20
		perDest = 10 // 200 notices in all
	)
	fake := notifiertest.NewSlack(b)
	fake.EnforceRate(time.Second, 3)
	for b.Loop() {
		b.StopTimer()
		names, hooks := make([]string, dests), make([]string, dests)
		for i := range dests {
			names[i] = fmt.Sprintf("d%02d-%d", i, benchSeq.Add(1))
			hooks[i] = names[i] + "=" + fake.WebhookURL(names[i])
		}
		b.Setenv("BRIDGE_SHARED_KEY", benchKey)
		b.Setenv("BRIDGE_DATA_DIR", b.TempDir())
		b.Setenv("BRIDGE_STORE", "bolt")
		b.Setenv("BRIDGE_ROUTES", "abcdefgh1234567/* -> slack-webhook:"+strings.Join(names, ", slack-webhook:"))
		b.Setenv("BRIDGE_SLACK_WEBHOOKS", strings.Join(hooks, ","))
		cfg, err := config.Load()
		if err != nil {
			b.Fatal(err)
		}
		a, err := New(cfg, zerolog.Nop(), io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		body := fixture.Bytes("environment.push")
		for i := range perDest {
			id := fmt.Sprintf("burst%013d", benchSeq.Add(1))
			one := bytes.Replace(body, []byte(`"id": "a1kz6ffxui7em"`), []byte(`"id": "`+id+`"`), 1)
			if _, n, err := a.Accept(context.Background(), one); err != nil || n != dests {
				b.Fatalf("notice %d: queued %d, %v; want %d", i, n, err, dests)
			}
		}
		b.StartTimer()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.worker.Run(ctx) }()
		deadline := time.Now().Add(time.Duration(perDest)*2*time.Second + 30*time.Second)
		for !drained(fake, names, perDest) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		b.StopTimer()
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			b.Errorf("worker: %v", err)
		}
		a.store.Close()

		slowest, fastest, limited := math.Inf(1), 0.0, 0
		for _, name := range names {
			if got := len(fake.Messages(name)); got != perDest {
				b.Errorf("%s received %d messages, want %d", name, got, perDest)
			}
			var times []time.Time
			for _, r := range fake.Requests() {
				switch {
				case r.Target != name:
				case r.Status == http.StatusTooManyRequests:
					limited++
					if limited <= 3 {
						b.Logf("429 for %s after %d delivered, %v after the previous", name, len(times), r.Time.Sub(times[len(times)-1]))
					}
				case r.Status == http.StatusOK:
					times = append(times, r.Time)
				}
			}
			if len(times) > 3 {
				rate := float64(len(times)-3) / times[len(times)-1].Sub(times[2]).Seconds()
				slowest, fastest = min(slowest, rate), max(fastest, rate)
			}
		}
		if limited > 0 {
			// Not a failure: the worker honours Retry-After and nothing is lost. It paces exactly at the
			// documented rate from before its first send, so a strict token bucket that starts at the first
			// arrival can be a few milliseconds short of a token (see BENCHMARKS.md).
			b.Logf("%d deliveries were answered 429 and retried", limited)
		}
		b.ReportMetric(float64(dests*perDest), "notices")
		b.ReportMetric(slowest, "slowest-dest-msg/s")
		b.ReportMetric(fastest, "fastest-dest-msg/s")
		b.ReportMetric(1, "pace-msg/s")
		b.ReportMetric(float64(limited), "429s")
		b.StartTimer()
	}
}

// drained reports whether every destination received want messages.
func drained(fake *notifiertest.Slack, names []string, want int) bool {
	for _, n := range names {
		if len(fake.Messages(n)) < want {
			return false
		}
	}
	return true
}
