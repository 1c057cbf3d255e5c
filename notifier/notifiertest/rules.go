package notifiertest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// failRule answers f to every request whose body contains match, until it is removed.
type failRule struct {
	match []byte
	f     Failure
}

// failWhere adds a rule and returns the function that removes it.
func (b *base) failWhere(match string, f Failure) (stop func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := &failRule{match: []byte(match), f: f}
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

// ruleFor returns the failure of the first rule body matches.
func (b *base) ruleFor(body []byte) (Failure, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.rules {
		if bytes.Contains(body, r.match) {
			return r.f, true
		}
	}
	return Failure{}, false
}

// FailWhere makes every request whose body contains match (e.g. an activity's ID, which the rendered
// message carries in its links) answer with f, until stop is called: a notice that keeps failing.
// FailNext's queue comes first.
func (s *Slack) FailWhere(match string, f Failure) (stop func()) { return s.failWhere(match, f) }

// FailWhere makes every request whose body contains match answer with f, until stop is called.
func (d *Discord) FailWhere(match string, f Failure) (stop func()) { return d.failWhere(match, f) }

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
