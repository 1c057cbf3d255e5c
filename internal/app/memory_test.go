package app_test

import (
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/internal/app"
	"github.com/activitybridge/activitybridge/internal/config"
	"github.com/activitybridge/activitybridge/internal/receiver"
	"github.com/activitybridge/activitybridge/internal/route"
)

// bulkBody is a push whose bulk, n bytes, is in the field that field places: a kept, rendered string.
func bulkBody(field string, n int) []byte {
	big := strings.Repeat("A", n)
	parts := map[string]string{
		"message": "", "description": "", "text": "", "branch": "main", "title": "Shop", "author": "Cloé",
		"route": "https://main.example.site/",
	}
	parts[field] = big
	return []byte(`{"id":"bulk-` + field + strconv.Itoa(n) + `","type":"environment.push","project":"abcdefgh1234567","state":"complete",` +
		`"result":"success","environments":["main"],"text":"` + parts["text"] + `",` +
		`"description":"` + parts["description"] + `","parameters":{"new_commit":"2bab04e"},` +
		`"payload":{"environment":{"name":"` + parts["branch"] + `"},"project":{"title":"` + parts["title"] + `"},` +
		`"commits":[{"sha":"2bab04e","message":"` + parts["message"] + `","author":{"name":"` + parts["author"] + `"}}],` +
		`"deployment":{"routes":{"` + parts["route"] + `":{"type":"upstream","primary":true}}}}}`)
}

// TestAcceptMemoryLongStrings: one accepted body costs at most 3× its size in allocations, from the
// receiver's buffer to the job written to the bolt file, whichever kept field holds its bulk (issue 12:
// a 20 MB commit message raised the peak RSS elevenfold). Bytes allocated bound the peak from above and
// do not depend on when the collector runs, so the ratio is asserted, not a time.
func TestAcceptMemoryLongStrings(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates tens of MiB")
	}
	table, err := route.Parse("*/* -> console, console@compact")
	if err != nil {
		t.Fatal(err)
	}
	newHandler := func(t *testing.T) http.Handler { // the store stays open: the package has no goleak check
		cfg := &config.Config{Store: "bolt", DataDir: t.TempDir(), Table: table, MaxAge: 24 * time.Hour,
			PublicConsoleURL: "https://console.platform.sh"}
		a, err := app.New(cfg, zerolog.Nop(), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		rh, err := receiver.NewHandler(receiver.Options{}, a.Accept, zerolog.Nop(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rh
	}
	const size = 20 << 20
	// Bulk in many small elements rather than one string.
	many := func(id, prefix, elem, suffix string) []byte {
		return []byte(`{"id":"` + id + `","type":"environment.push","project":"p1",` + prefix +
			strings.Repeat(elem+",", size/(len(elem)+1)) + strings.TrimSuffix(elem, ",") + suffix + `}`)
	}
	lists := map[string]func(string) []byte{
		"empty commits": func(id string) []byte { return many(id, `"payload":{"commits":[`, `{}`, `]}`) },
		"environments":  func(id string) []byte { return many(id, `"environments":[`, `""`, `]`) },
		"timings":       func(id string) []byte { return many(id, `"timings":{`, `"t":1`, `}`) },
		"routes": func(id string) []byte {
			return many(id, `"payload":{"deployment":{"routes":{`, `"https://a.example/":{"type":"upstream"}`, `}}}`)
		},
	}
	// escaped: the message again, under a member name written with an escape ("p\u0061yload").
	for _, field := range []string{"message", "description", "text", "branch", "title", "author", "route", "escaped",
		"empty commits", "environments", "timings", "routes"} {
		t.Run(field, func(t *testing.T) {
			body := bulkBody(field, size)
			if field == "escaped" {
				body = []byte(strings.Replace(string(bulkBody("message", size)), `"payload":`, `"p\u0061yload":`, 1))
			}
			if list := lists[field]; list != nil {
				body = list("bulk-list")
			}
			// An environment name over 256 bytes is refused at decode (issue 11): the memory bound holds
			// for the refusal too.
			want := 202
			if field == "branch" {
				want = 400
			}
			h := newHandler(t)
			if rec := serve(h, bulkBody(field, 1000), false); rec.Code != want { // warm-up: templates, pools
				t.Fatalf("warm-up: status = %d (%.200s), want %d", rec.Code, rec.Body, want)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			rec := serve(h, body, false)
			runtime.ReadMemStats(&after)
			if rec.Code != want {
				t.Fatalf("status = %d (%.200s), want %d", rec.Code, rec.Body, want)
			}
			got := after.TotalAlloc - before.TotalAlloc
			ratio := float64(got) / float64(len(body))
			t.Logf("%d MB in %s: allocated %.1f MiB (%.2f× the body)", len(body)>>20, field, float64(got)/(1<<20), ratio)
			if ratio > 3 {
				t.Errorf("one request with %d bytes in %s allocated %d bytes (%.1f×), want ≤ 3×", len(body), field, got, ratio)
			}
		})
	}
}
