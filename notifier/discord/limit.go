package discord

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// limiter stands in for discordgo's rate limiter, which sleeps (ignoring the context) before a request
// into an exhausted bucket or during a global limit. It keeps what Discord's answers say about the
// limits; a request that would run into one fails at once with a limitedError (a notifier.RetryAfter
// for the worker to schedule), and the rate-limit headers are taken off every answer before discordgo
// sees them, so its own limiter never waits. One limiter per session, as Discord counts per credential.
type limiter struct {
	now func() time.Time

	mu      sync.Mutex
	global  time.Time            // no request at all before this
	buckets map[string]time.Time // bucket → no request to it before this (only while exhausted)
}

func newLimiter() *limiter {
	return &limiter{now: time.Now, buckets: map[string]time.Time{}}
}

// limitedError is a request not sent because Discord asked us to hold off.
type limitedError struct {
	after  time.Duration
	global bool
}

func (e *limitedError) Error() string {
	if e.global {
		return fmt.Sprintf("not sent: Discord's global rate limit is in force for another %s", e.after.Round(time.Millisecond))
	}
	return fmt.Sprintf("not sent: this Discord rate-limit bucket is exhausted for another %s", e.after.Round(time.Millisecond))
}

// messageID takes the message ID off a path, so that the edits of one channel or webhook share a bucket
// (as Discord counts them) instead of one per message.
var messageID = regexp.MustCompile(`/messages/\d+$`)

func bucketKey(r *http.Request) string {
	return r.Method + " " + messageID.ReplaceAllString(r.URL.Path, "/messages/")
}

// check returns the error to fail r with when a limit is in force.
func (l *limiter) check(key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Before(l.global) {
		return &limitedError{after: l.global.Sub(now), global: true}
	}
	if until, ok := l.buckets[key]; ok {
		if now.Before(until) {
			return &limitedError{after: until.Sub(now)}
		}
		delete(l.buckets, key)
	}
	return nil
}

// Headers discordgo's limiter reads (Bucket.Release).
var limitHeaders = []string{"X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Reset-After", "X-RateLimit-Global"}

// maxLimitBody bounds how much of a 429 body is read to find retry_after.
const maxLimitBody = 64 << 10

// observe learns the limits from resp and strips them before discordgo sees them.
func (l *limiter) observe(key string, resp *http.Response) {
	h := resp.Header
	now := l.now()
	var hold time.Time // the bucket's reset when it is exhausted
	if h.Get("X-RateLimit-Remaining") == "0" {
		if d, ok := seconds(h.Get("X-RateLimit-Reset-After")); ok {
			hold = now.Add(d)
		}
	}
	global := false
	if resp.StatusCode == http.StatusTooManyRequests {
		var body struct {
			RetryAfter float64 `json:"retry_after"`
			Global     bool    `json:"global"`
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxLimitBody))
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		if json.Unmarshal(raw, &body) == nil {
			if d, ok := seconds(strconv.FormatFloat(body.RetryAfter, 'f', -1, 64)); ok && now.Add(d).After(hold) {
				hold = now.Add(d)
			}
		}
		global = body.Global || h.Get("X-RateLimit-Global") != "" || h.Get("X-RateLimit-Scope") == "global"
	}
	for _, k := range limitHeaders {
		h.Del(k)
	}
	if hold.IsZero() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if global {
		if hold.After(l.global) {
			l.global = hold
		}
		return
	}
	l.buckets[key] = hold
}

// seconds parses a count of seconds with decimals, as Discord writes them; ok is false for anything
// that is not a finite positive number.
func seconds(s string) (time.Duration, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > 24*3600 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}
