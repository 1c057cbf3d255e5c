package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/internal/config"
	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/internal/route"
)

// A template that fails on a payload no sample foresaw must not cost the notice: it is queued as a plain
// message with the status, the project, the live URL and the console link, and the failure is logged.
func TestTemplateFailureStillQueuesAPlainNotice(t *testing.T) {
	dir := t.TempDir()
	// Passes the start-up check (no sample is on branch "boom") and fails at run time there.
	tmpl := `{{define "title"}}{{if eq .Environment.Name "boom"}}{{index .Failed 99}}{{end}}{{.Environment.Name}} deployed{{end}}`
	if err := os.WriteFile(filepath.Join(dir, "environment.push.tmpl"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	table, err := route.Parse("*/* -> console")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a, err := New(&config.Config{Store: "memory", Table: table, MaxAge: time.Hour, TemplatesDir: dir,
		PublicConsoleURL: "https://console.platform.sh"}, zerolog.New(&logs), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(fixture.Bytes("environment.push"), &body); err != nil {
		t.Fatal(err)
	}
	body["environments"] = []any{"boom"}
	raw, _ := json.Marshal(body)

	if _, queued, err := a.Accept(context.Background(), raw); err != nil || queued != 1 {
		t.Fatalf("Accept = %d, %v; want 1 job queued", queued, err)
	}
	jobs, err := pendingJobs(a)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("pending jobs = %d, %v; want 1", len(jobs), err)
	}
	msg := jobs[0].Msg
	if msg.Status != "success" || !strings.Contains(msg.Title, "abcdefgh1234567") {
		t.Errorf("plain message status %q, title %q; want success and the project", msg.Status, msg.Title)
	}
	if len(msg.Fields) != 1 || msg.Fields[0].Name != "Live" || !msg.Fields[0].Keep {
		t.Errorf("plain message fields = %+v, want the live URL, kept", msg.Fields)
	}
	if len(msg.Links) != 1 || !strings.HasSuffix(msg.Links[0].URL, "/log/a1kz6ffxui7em") {
		t.Errorf("plain message links = %+v, want the activity's console link", msg.Links)
	}
	if !strings.Contains(logs.String(), "template failed") {
		t.Errorf("the template failure was not logged: %s", logs.String())
	}
}
