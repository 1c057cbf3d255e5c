package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/jws"
)

// send --sample health and health-critical post a signed health notification about the samples'
// project and main (so that the same routes pick it), new at each run, and refuse --id.
func TestSendHealthSample(t *testing.T) {
	t.Setenv("BRIDGE_SHARED_KEY", "k")
	t.Setenv("BRIDGE_PATH_TOKEN", "")
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get(jws.Header) != jws.Sign(b, "k") {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		bodies = append(bodies, b)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	for _, tt := range []struct {
		args                           []string
		project, environment, severity string
	}{
		{[]string{"--sample", "health"}, "abcdefgh1234567", "main", "warning"},
		{[]string{"--sample", "health"}, "abcdefgh1234567", "main", "warning"},
		{[]string{"--sample", "health-critical", "--project", "zzzzzzzzzzzzzzz"}, "zzzzzzzzzzzzzzz", "main", "critical"},
	} {
		var out bytes.Buffer
		if err := sendCmd(append([]string{"--url", srv.URL + "/webhook"}, tt.args...), nil, &out); err != nil {
			t.Fatalf("send %v: %v\n%s", tt.args, err, out.String())
		}
		h, err := activity.DecodeHealth(bodies[len(bodies)-1])
		if err != nil {
			t.Fatalf("send %v posted a body that is not a health notification: %v", tt.args, err)
		}
		if h.Project != tt.project || h.Environment != tt.environment || h.Severity != tt.severity || h.ProjectTitle != "" {
			t.Errorf("send %v: project %q (title %q), environment %q, severity %q; want %s, no title, %s, %s",
				tt.args, h.Project, h.ProjectTitle, h.Environment, h.Severity, tt.project, tt.environment, tt.severity)
		}
	}
	first, _ := activity.DecodeHealth(bodies[0])
	second, _ := activity.DecodeHealth(bodies[1])
	if first.ID == second.ID {
		t.Errorf("two sends of the health sample have one ID %s: the second would be a duplicate", first.ID)
	}
	err := sendCmd([]string{"--url", srv.URL, "--sample", "health", "--id", "x"}, nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "health notification has no id") {
		t.Errorf("send --sample health --id x: %v", err)
	}
}

// A 401 says which setting to look at.
func TestSendUnauthorizedSaysWhy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
	}))
	defer srv.Close()
	t.Setenv("BRIDGE_PATH_TOKEN", "")
	for key, want := range map[string]string{
		"":  "it wants a signature: set BRIDGE_SHARED_KEY",
		"k": "BRIDGE_SHARED_KEY or BRIDGE_PATH_TOKEN differs from the bridge's",
	} {
		t.Setenv("BRIDGE_SHARED_KEY", key)
		err := sendCmd([]string{"--url", srv.URL}, nil, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "401 Unauthorized") || !strings.Contains(err.Error(), want) {
			t.Errorf("key %q: send = %v, want a 401 saying %q", key, err, want)
		}
	}
}
