package discord_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/notifier"
	"github.com/activitybridge/activitybridge/notifier/discord"
	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

// sendGuarded sends in the background; the deadline only guards against a send that sleeps (as
// discordgo's own limiter would, for the whole retry_after): it asserts no timing.
func sendGuarded(t *testing.T, n notifier.Notifier, prev notifier.Ref) (notifier.Ref, error) {
	t.Helper()
	type result struct {
		ref notifier.Ref
		err error
	}
	done := make(chan result, 1)
	go func() {
		ref, err := n.Send(context.Background(), testMsg, prev)
		done <- result{ref, err}
	}()
	select {
	case r := <-done:
		return r.ref, r.err
	case <-time.After(20 * time.Second):
		t.Fatal("Send is still running 20s later: it sleeps on a rate limit instead of returning RetryAfter")
		return notifier.Ref{}, nil
	}
}

// TestGlobalRateLimitReturnsRetryAfter: a global 429 with a long retry_after comes back as a RetryAfter
// error at once, and later sends (any webhook, any bucket) do not go out, or sleep, until it is over.
func TestGlobalRateLimitReturnsRetryAfter(t *testing.T) {
	const channel = "123456789012345678"
	fake := notifiertest.NewDiscord(t)
	hooks, _ := discord.NewWebhooks(fake.APIURL(), client())
	bot, _ := discord.NewBot(fake.BotToken(), fake.APIURL(), client())
	prod, _ := hooks.Hook("prod", fake.WebhookURL("prod"))
	other, _ := hooks.Hook("other", fake.WebhookURL("other"))
	fake.LimitGlobally(10 * time.Minute)

	steps := []struct {
		name         string
		n            notifier.Notifier
		prev         notifier.Ref
		wantRequests int // requests the fake saw after this step
	}{
		{"the 429 itself", prod, notifier.Ref{}, 1},
		{"same webhook again", prod, notifier.Ref{}, 1},
		{"another webhook of the session", other, notifier.Ref{}, 1},
		{"an edit", prod, notifier.Ref{ID: "1100000000000000001"}, 1},
		{"the bot (its own session) gets its own 429", bot.Channel(channel), notifier.Ref{}, 2},
		{"the bot again", bot.Channel(channel), notifier.Ref{}, 2},
	}
	for _, st := range steps {
		_, err := sendGuarded(t, st.n, st.prev)
		after, ok := notifier.RetryAfterOf(err)
		if !ok || after < 9*time.Minute || after > 10*time.Minute {
			t.Errorf("%s: error %v (retry after %v, %v); want a RetryAfter of about 10m", st.name, err, after, ok)
		}
		if got := len(fake.Requests()); got != st.wantRequests {
			t.Errorf("%s: the fake saw %d requests; want %d", st.name, got, st.wantRequests)
		}
	}
}

// TestExhaustedBucketReturnsRetryAfter: an answer that says the bucket is empty (Remaining 0,
// Reset-After 60) holds later requests to that bucket, and only to it, without sleeping.
func TestExhaustedBucketReturnsRetryAfter(t *testing.T) {
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests = append(requests, r.Method+" "+r.URL.Path)
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset-After", "60.000")
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprint(w, `{"id":"1200000000000000001","channel_id":"900000000000000001"}`)
	}))
	defer srv.Close()
	hooks, _ := discord.NewWebhooks(srv.URL+"/api/", client())
	a, _ := hooks.Hook("a", "https://discord.com/api/webhooks/111/"+strings.Repeat("a", 68))
	b, _ := hooks.Hook("b", "https://discord.com/api/webhooks/222/"+strings.Repeat("b", 68))

	if _, err := sendGuarded(t, a, notifier.Ref{}); err != nil {
		t.Fatalf("first send: %v", err)
	}
	_, err := sendGuarded(t, a, notifier.Ref{})
	if after, ok := notifier.RetryAfterOf(err); !ok || after < 50*time.Second || after > 60*time.Second {
		t.Errorf("send into the exhausted bucket = %v; want a RetryAfter of about 60s", err)
	}
	if _, err := sendGuarded(t, b, notifier.Ref{}); err != nil {
		t.Errorf("send to another webhook = %v; want it sent (its bucket is not exhausted)", err)
	}
	if len(requests) != 2 {
		t.Errorf("requests = %v; want 2 (nothing sent into the exhausted bucket)", requests)
	}
}

// TestErrorsCarryNoCredential walks everything an error chain holds (discordgo's RESTError keeps the
// request, with its Authorization header and URL): neither the bot token nor a webhook token may be
// anywhere in it, whatever went wrong.
func TestErrorsCarryNoCredential(t *testing.T) {
	const channel = "123456789012345678"
	failures := []struct {
		name  string
		fail  *notifiertest.Failure
		limit bool
	}{
		{"400 with a code", &notifiertest.Failure{Status: 400, Code: 50035, Message: "Invalid Form Body"}, false},
		{"401", &notifiertest.Failure{Status: 401}, false},
		{"500", &notifiertest.Failure{Status: 500}, false},
		{"429", &notifiertest.Failure{RetryAfter: 2 * time.Second}, false},
		{"global 429", nil, true},
		{"timeout", &notifiertest.Failure{Delay: 5 * time.Second}, false},
		{"200 not json", &notifiertest.Failure{Body: "<html>proxy</html>"}, false},
	}
	for _, f := range failures {
		for _, via := range []string{"bot", "webhook", "webhook edit"} {
			t.Run(f.name+" "+via, func(t *testing.T) {
				fake := notifiertest.NewDiscord(t)
				hooks, _ := discord.NewWebhooks(fake.APIURL(), client())
				bot, _ := discord.NewBot(fake.BotToken(), fake.APIURL(), client())
				hookURL := fake.WebhookURL("prod")
				hookToken := hookURL[strings.LastIndex(hookURL, "/")+1:]
				var n notifier.Notifier
				var prev notifier.Ref
				switch via {
				case "bot":
					n = bot.Channel(channel)
				case "webhook edit":
					prev = notifier.Ref{ID: "1100000000000000001"}
					fallthrough
				default:
					n, _ = hooks.Hook("prod", hookURL)
				}
				if f.fail != nil {
					fake.FailNext(1, *f.fail)
				}
				if f.limit {
					fake.LimitGlobally(time.Minute)
				}
				_, err := sendGuarded(t, n, prev)
				if err == nil {
					t.Fatal("Send succeeded; want an error")
				}
				for _, secret := range []string{fake.BotToken(), hookToken} {
					if path := holds(reflect.ValueOf(err), secret, "err", map[uintptr]bool{}); path != "" {
						t.Errorf("the error chain holds a credential at %s (error: %v)", path, err)
					}
				}
				// The chain still says what happened.
				for e := err; e != nil; e = errors.Unwrap(e) {
					if strings.Contains(e.Error(), hookToken) || strings.Contains(e.Error(), fake.BotToken()) {
						t.Errorf("an error in the chain prints a credential: %v", e)
					}
				}
			})
		}
	}
}

// holds returns where in v (followed through pointers, interfaces, structs with their unexported
// fields, slices and maps) a string or byte slice contains secret, or "" when nowhere.
func holds(v reflect.Value, secret, path string, seen map[uintptr]bool) string {
	switch v.Kind() {
	case reflect.String:
		if strings.Contains(v.String(), secret) {
			return path
		}
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		if v.Kind() == reflect.Pointer {
			if seen[v.Pointer()] {
				return ""
			}
			seen[v.Pointer()] = true
		}
		return holds(v.Elem(), secret, path, seen)
	case reflect.Struct:
		for i := range v.NumField() {
			if p := holds(v.Field(i), secret, path+"."+v.Type().Field(i).Name, seen); p != "" {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			if bytes.Contains(v.Bytes(), []byte(secret)) {
				return path
			}
			return ""
		}
		for i := range v.Len() {
			if p := holds(v.Index(i), secret, fmt.Sprintf("%s[%d]", path, i), seen); p != "" {
				return p
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if p := holds(it.Key(), secret, path+"{key}", seen); p != "" {
				return p
			}
			if p := holds(it.Value(), secret, fmt.Sprintf("%s[%v]", path, it.Key()), seen); p != "" {
				return p
			}
		}
	}
	return ""
}
