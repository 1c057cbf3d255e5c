package notifiertest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

func TestFailWhere(t *testing.T) {
	s := notifiertest.NewSlack(t)
	a, b := s.WebhookURL("a"), s.WebhookURL("b")
	u, err := url.Parse(a)
	if err != nil {
		t.Fatal(err)
	}
	stop := s.FailWhere(notifiertest.Failure{Status: http.StatusInternalServerError}, "poison1", u.Path)
	tests := []struct {
		name, url, text string
		want            int
	}{
		{"the poisoned activity on the poisoned webhook", a, "deploy of poison1", 500},
		{"another activity there", a, "deploy of other1", 200},
		{"the poisoned activity elsewhere", b, "deploy of poison1", 200},
	}
	for _, tt := range tests {
		body, _ := json.Marshal(map[string]string{"text": tt.text})
		if got, ans, _ := post(t, http.MethodPost, tt.url, "application/json", string(body)); got != tt.want {
			t.Errorf("%s: %d %s; want %d", tt.name, got, ans, tt.want)
		}
	}
	stop()
	body, _ := json.Marshal(map[string]string{"text": "deploy of poison1"})
	if got, ans, _ := post(t, http.MethodPost, a, "application/json", string(body)); got != 200 {
		t.Errorf("after stop: %d %s; want 200", got, ans)
	}
}

func TestLimitGlobally(t *testing.T) {
	d := notifiertest.NewDiscord(t)
	d.LimitGlobally(time.Minute)
	got, ans, h := post(t, http.MethodPost, d.WebhookURL("prod")+"?wait=true", "application/json", `{"content":"x"}`)
	var v struct {
		RetryAfter float64 `json:"retry_after"`
		Global     bool    `json:"global"`
	}
	if err := json.Unmarshal([]byte(ans), &v); err != nil || got != 429 || !v.Global || v.RetryAfter < 50 || v.RetryAfter > 60 {
		t.Errorf("answer %d %s (%v); want 429 global with retry_after about 60", got, ans, err)
	}
	if h.Get("X-RateLimit-Global") != "true" || h.Get("X-RateLimit-Scope") != "global" || h.Get("X-RateLimit-Reset-After") == "" {
		t.Errorf("headers %v; want the global limit's", h)
	}
	if len(d.Messages("prod")) != 0 {
		t.Error("a message was stored during the limit")
	}
}
