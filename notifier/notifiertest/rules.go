package notifiertest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// failRule answers f to every request whose path or body contains each of match, until it is removed.
type failRule struct {
	match [][]byte
	f     Failure
}

// failWhere adds a rule and returns the function that removes it.
func (b *base) failWhere(f Failure, match []string) (stop func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := &failRule{f: f}
	for _, m := range match {
		r.match = append(r.match, []byte(m))
	}
	b.rules = append(b.rules, r)
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for i, x := range b.rules {
			if x == r {
				b.rules = append(b.rules[:i:i], b.rules[i+1:]...)
				return
			}
		}
	}
}

// ruleFor returns the failure of the first rule the request (its path and body) matches.
func (b *base) ruleFor(r *http.Request, body []byte) (Failure, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	path := []byte(r.URL.Path)
rules:
	for _, rule := range b.rules {
		for _, m := range rule.match {
			if !bytes.Contains(body, m) && !bytes.Contains(path, m) {
				continue rules
			}
		}
		return rule.f, true
	}
	return Failure{}, false
}

// FailWhere makes every request whose path or body contains each of match (e.g. an activity's ID, which
// the rendered message carries in its links, and a webhook's path) answer with f, until stop is called:
// a notice that keeps failing. FailNext's queue comes first.
func (s *Slack) FailWhere(f Failure, match ...string) (stop func()) { return s.failWhere(f, match) }

// FailWhere makes every request whose path or body contains each of match answer with f, until stop is
// called.
func (d *Discord) FailWhere(f Failure, match ...string) (stop func()) { return d.failWhere(f, match) }

// LimitGlobally makes the fake Discord answer every request for the next d with the 429 of Discord's
// global rate limit: {"global":true,"retry_after":<what is left>} with X-RateLimit-Global and a real
// X-RateLimit-Reset-After (the headers that make discordgo's own limiter sleep).
func (d *Discord) LimitGlobally(dur time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.globalUntil = time.Now().Add(dur)
}

// globalLimited answers the global 429 while LimitGlobally is in force.
func (d *Discord) globalLimited(w http.ResponseWriter, r *http.Request, kind string) bool {
	d.mu.Lock()
	left := time.Until(d.globalUntil)
	d.mu.Unlock()
	if left <= 0 {
		return false
	}
	d.record(r, kind, "", http.StatusTooManyRequests)
	secs := strconv.FormatFloat(left.Seconds(), 'f', 3, 64)
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(left)))
	w.Header().Set("X-RateLimit-Global", "true")
	w.Header().Set("X-RateLimit-Scope", "global")
	w.Header().Set("X-RateLimit-Reset-After", secs)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	b, _ := json.Marshal(map[string]any{"message": "You are being rate limited.", "retry_after": left.Seconds(), "global": true})
	_, _ = w.Write(b)
	return true
}
