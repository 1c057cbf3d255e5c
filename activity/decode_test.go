package activity_test

import (
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/fixture"
)

func decode(t testing.TB, name string) *activity.Activity {
	t.Helper()
	a, err := activity.Decode(fixture.Bytes(name))
	if err != nil {
		t.Fatalf("Decode(%s): %v", name, err)
	}
	return a
}

func TestDecodeEveryFixture(t *testing.T) {
	for _, name := range fixture.Activities() {
		t.Run(name, func(t *testing.T) {
			a := decode(t, name)
			if a.ID == "" || a.Type == "" || a.Project == "" {
				t.Errorf("id/type/project = %q/%q/%q, want all set", a.ID, a.Type, a.Project)
			}
		})
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDecodeDocsPush(t *testing.T) {
	a := decode(t, "environment.push")
	env := a.Payload.Environment
	dep := a.Payload.Deployment
	if env == nil || dep == nil {
		t.Fatalf("payload.environment = %v, payload.deployment = %v, want both", env, dep)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"id", a.ID, "a1kz6ffxui7em"},
		{"type", a.Type, "environment.push"},
		{"project", a.Project, "abcdefgh1234567"},
		{"state", a.State, activity.StateComplete},
		{"result", a.Result, activity.ResultSuccess},
		{"environments", strings.Join(a.Environments, ","), "main"},
		{"created_at", a.CreatedAt, mustTime("2022-12-14T15:41:05.821145Z")},
		{"updated_at (null)", a.UpdatedAt, time.Time{}},
		{"started_at", a.StartedAt, mustTime("2022-12-14T15:41:05.969872Z")},
		{"completed_at", a.CompletedAt, mustTime("2022-12-14T15:41:57.635442Z")},
		{"cancelled_at (null)", a.CancelledAt, time.Time{}},
		{"completion_percent", a.CompletionPercent, 100},
		{"timings.deploy", a.Timings["deploy"], 49.954},
		{"timings count", len(a.Timings), 5},
		{"text", a.Text, "Cloé Weber pushed to Main"},
		{"description", a.Description, `<user data-id="c9926428-44dc-4b10-be03-a26dd43b44c1">Cloé Weber</user> pushed to <environment data-id="main">Main</environment>`},
		{"parameters.user", a.Parameters.User, "c9926428-44dc-4b10-be03-a26dd43b44c1"},
		{"parameters.environment", a.Parameters.Environment, "main"},
		{"parameters.old_commit", a.Parameters.OldCommit, "6aac318907b50252976c47e4e62ed95d438af0ea"},
		{"parameters.new_commit", a.Parameters.NewCommit, "2bab04e050279ac078d5d34016f5dd9c466e948d"},
		{"payload.user", a.Payload.User, activity.User{ID: "c9926428-44dc-4b10-be03-a26dd43b44c1", DisplayName: "Cloé Weber"}},
		{"payload.environment", *env, activity.Environment{Name: "main", MachineName: "main-abcd123", Title: "Main",
			Type: "production", Status: "active", HeadCommit: "6aac318907b50252976c47e4e62ed95d438af0ea",
			EdgeHostname: "main-abcd123-abcdefgh1234567.eu-3.platformsh.site", IsMain: true}},
		{"payload.commits_count", a.Payload.CommitsCount, 1},
		{"payload.commits[0]", a.Payload.Commits[0], activity.Commit{SHA: "2bab04e050279ac078d5d34016f5dd9c466e948d",
			Message: "Add cron", Author: activity.Author{Name: "Cloé Weber", Email: "cloeweber@example.com", Date: time.Unix(1671032461, 0).UTC()}}},
		{"deployment.project_info.name", dep.ProjectTitle, "abcdefgh1234567"},
		{"deployment.environment_type", dep.EnvironmentType, "production"},
		{"deployment.routes count", len(dep.Routes), 4},
		{"deployment.routes[2]", dep.Routes[2], activity.Route{URL: "https://main-abcd123-abcdefgh1234567.eu-3.platformsh.site/",
			Type: "upstream", Upstream: "app:http", OriginalURL: "https://{default}/", Primary: true}},
		{"deployment.routes[3]", dep.Routes[3], activity.Route{URL: "https://www.main-abcd123-abcdefgh1234567.eu-3.platformsh.site/",
			Type: "redirect", To: "https://main-abcd123-abcdefgh1234567.eu-3.platformsh.site/", OriginalURL: "https://www.{default}/"}},
		{"payload.project (absent)", a.Payload.Project == nil, true},
		{"commands (absent)", len(a.Commands), 0},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

func TestDecodeOtherShapes(t *testing.T) {
	cron := decode(t, "environment.cron")
	old := decode(t, "environment.push-2017")
	failed := decode(t, "push-failure")
	variable := decode(t, "variable-update")
	domain := decode(t, "domain-create")
	syncd := decode(t, "synchronize")
	tests := []struct {
		name      string
		got, want any
	}{
		{"cron parameters.cron", cron.Parameters.Cron, "saybye"},
		{"cron parameters.application", cron.Parameters.Application, "app"},
		{"cron payload.cron", cron.Payload.Cron, "saybye"},
		{"cron payload.project", *cron.Payload.Project, activity.Project{ID: "abcdefgh1234567", Title: "php-test",
			Region: "eu-3.platform.sh", Organization: "01FF4NBNVMMDWP1NVK0G4EGJW0"}},
		{"cron payload.deployment", cron.Payload.Deployment == nil, true},
		{"2017 updated_at", old.UpdatedAt, mustTime("2017-12-07T10:47:39.369761Z")},
		{"2017 timings", len(old.Timings), 0},
		{"2017 text", old.Text, ""},
		{"2017 author date (absent)", old.Payload.Commits[0].Author.Date, time.Time{}},
		{"2017 author", old.Payload.Commits[0].Author.Name, "Ori Pekelman"},
		{"2017 upstream without app port", old.Payload.Deployment.Routes[1].Upstream, "myrubyapp"},
		{"failure result", failed.Result, activity.ResultFailure},
		{"failure reason", failed.FailureReason, "shell"},
		{"failure commands", len(failed.Commands), 2},
		{"failure command 1", failed.Commands[1], activity.Command{App: "app", Type: "deploy", ExitCode: 2}},
		{"variable name", *variable.Payload.Variable, activity.Named{Name: "env:API_URL"}},
		{"domain name", *domain.Payload.Domain, activity.Named{Name: "www.example.com"}},
		{"domain environments", len(domain.Environments), 0},
		{"synchronize from", syncd.Parameters.From, "main"},
		{"synchronize into", syncd.Parameters.Into, "staging"},
		{"synchronize code", syncd.Parameters.SynchronizeCode, false},
		{"synchronize data", syncd.Parameters.SynchronizeData, true},
		{"backup name", decode(t, "backup").Payload.BackupName, "ylbexg3klwzsd4ypzb4bvmmlbe"},
		{"in progress result (null)", decode(t, "push-in-progress").Result, activity.ResultNone},
		{"unknown type", decode(t, "unknown-type").Type, "environment.future_thing"},
		{"minimal state", decode(t, "minimal").State, activity.StateComplete},
		{"hostile 5000-char message", len([]rune(decode(t, "push-hostile").Payload.Commits[1].Message)), 5000},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

const okHead = `"id":"a1","type":"environment.push","project":"p1"`

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // substrings of the error message
	}{
		{"empty", "", []string{"empty body"}},
		{"blank", " \n\t", []string{"empty body"}},
		{"not JSON", "hello", []string{"not JSON"}},
		{"form body", "payload=%7B%7D", []string{"not JSON"}},
		{"array", `[{"id":"a"}]`, []string{"JSON array"}},
		{"string", `"activity"`, []string{"JSON string"}},
		{"number", `42`, []string{"JSON number"}},
		{"null", `null`, []string{"JSON null"}},
		{"bad array", `[1,`, []string{"not JSON"}},
		{"truncated", `{"id":"a1","type":"environment.push"`, []string{"invalid JSON"}},
		{"trailing garbage", `{` + okHead + `} x`, []string{"invalid JSON"}},
		{"two objects", `{` + okHead + `}{` + okHead + `}`, []string{"invalid JSON"}},
		{"missing id", `{"type":"t","project":"p"}`, []string{`"id"`, "missing"}},
		{"empty id", `{"id":"","type":"t","project":"p"}`, []string{`"id"`, "missing"}},
		{"null id", `{"id":null,"type":"t","project":"p"}`, []string{`"id"`, "missing"}},
		{"missing type", `{"id":"a","project":"p"}`, []string{`"type"`, "missing"}},
		{"missing project", `{"id":"a","type":"t"}`, []string{`"project"`, "missing"}},
		{"type is a number", `{"id":"a","type":42,"project":"p"}`, []string{`"type"`, "want a string, got number"}},
		{"id is an object", `{"id":{},"type":"t","project":"p"}`, []string{`"id"`, "got object"}},
		{"environments is an object", `{` + okHead + `,"environments":{}}`, []string{`"environments"`, "want an array"}},
		{"environments holds numbers", `{` + okHead + `,"environments":[1]}`, []string{`"environments.0"`, "got number"}},
		{"state is a boolean", `{` + okHead + `,"state":true}`, []string{`"state"`, "got boolean"}},
		{"created_at is a number", `{` + okHead + `,"created_at":1671032461}`, []string{`"created_at"`, "want an RFC 3339 time string, got number"}},
		{"created_at is not a time", `{` + okHead + `,"created_at":"yesterday"}`, []string{`"created_at"`, "want an RFC 3339 time string", "yesterday"}},
		{"completion_percent is a string", `{` + okHead + `,"completion_percent":"100"}`, []string{`"completion_percent"`}},
		{"timings is an array", `{` + okHead + `,"timings":[]}`, []string{`"timings"`}},
		{"commands is an object", `{` + okHead + `,"commands":{}}`, []string{`"commands"`}},
		{"parameters is a string", `{` + okHead + `,"parameters":"x"}`, []string{`"parameters"`}},
		{"payload is an array", `{` + okHead + `,"payload":[]}`, []string{`"payload"`}},
		{"invalid UTF-8 in text", `{` + okHead + ",\"text\":\"caf\xe9\"}", []string{`"text"`, "UTF-8"}},
		{"invalid UTF-8 in id", "{\"id\":\"\xff\",\"type\":\"t\",\"project\":\"p\"}", []string{`"id"`, "UTF-8"}},
		{"invalid UTF-8 in a commit", `{` + okHead + ",\"payload\":{\"commits\":[{\"message\":\"\xc3\x28\"}]}}", []string{"payload.commits", "UTF-8"}},
		{"invalid UTF-8 in a user", `{` + okHead + ",\"payload\":{\"user\":{\"display_name\":\"\xed\xa0\x80\"}}}", []string{"payload.user.display_name", "UTF-8"}},
		{"health notification", string(fixture.Bytes("health.webhook")), []string{`"project"`}},
		{"nested 10001 deep under an unknown key", `{` + okHead + `,"x":` + strings.Repeat("[", 10_001) + strings.Repeat("]", 10_001) + `}`,
			[]string{"invalid JSON", "exceeded max depth"}},
		{"nested a million deep", `{` + okHead + `,"x":` + strings.Repeat("[", 1_000_000) + `}`, []string{"invalid JSON"}},
		{"member names match exactly", `{"ID":"a","type":"t","project":"p"}`, []string{`"id"`, "missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := activity.Decode([]byte(tt.body))
			if err == nil {
				t.Fatalf("Decode() = %+v, want an error", a)
			}
			if !errors.Is(err, activity.ErrNotActivity) {
				t.Errorf("errors.Is(%v, ErrNotActivity) = false, want true", err)
			}
			var de *activity.DecodeError
			if !errors.As(err, &de) {
				t.Errorf("error %T is not a *DecodeError", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "not an activity: ") {
				t.Errorf("error %q does not start with %q", msg, "not an activity: ")
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

// Inside parameters and payload, whose shapes differ by type, unexpected JSON types are ignored.
func TestDecodeLenientInside(t *testing.T) {
	tests := []struct {
		name string
		body string
		got  func(*activity.Activity) any
		want any
	}{
		{"parameters.environment is a number", `"parameters":{"environment":5}`,
			func(a *activity.Activity) any { return a.Parameters.Environment }, ""},
		{"parameters.cron is an object", `"parameters":{"cron":{"spec":"* * * * *"},"user":"u"}`,
			func(a *activity.Activity) any { return a.Parameters.User }, "u"},
		{"synchronize_data is a string", `"parameters":{"synchronize_data":"yes"}`,
			func(a *activity.Activity) any { return a.Parameters.SynchronizeData }, false},
		{"payload.cron is an object", `"payload":{"cron":{"name":"x"},"backup_name":"b1"}`,
			func(a *activity.Activity) any { return a.Payload.BackupName }, "b1"},
		{"commits_count is a string", `"payload":{"commits_count":"3"}`,
			func(a *activity.Activity) any { return a.Payload.CommitsCount }, 0},
		{"author date unix int", `"payload":{"commits":[{"author":{"date":1671032461}}]}`,
			func(a *activity.Activity) any { return a.Payload.Commits[0].Author.Date }, time.Unix(1671032461, 0).UTC()},
		{"author date unix float", `"payload":{"commits":[{"author":{"date":1671032461.5}}]}`,
			func(a *activity.Activity) any { return a.Payload.Commits[0].Author.Date }, time.Unix(1671032461, 5e8).UTC()},
		{"author date string", `"payload":{"commits":[{"author":{"date":"2017-12-07T10:45:30+01:00"}}]}`,
			func(a *activity.Activity) any { return a.Payload.Commits[0].Author.Date }, mustTime("2017-12-07T09:45:30Z")},
		{"author date null", `"payload":{"commits":[{"author":{"date":null}}]}`,
			func(a *activity.Activity) any { return a.Payload.Commits[0].Author.Date }, time.Time{}},
		{"author date unreadable", `"payload":{"commits":[{"author":{"date":"last tuesday"}}]}`,
			func(a *activity.Activity) any { return a.Payload.Commits[0].Author.Date }, time.Time{}},
		{"exit_code is a string", `"commands":[{"app":"app","exit_code":"1"}]`,
			func(a *activity.Activity) any { return a.Commands[0].ExitCode }, 0},
		{"route primary is a string", `"payload":{"deployment":{"routes":{"https://x/":{"type":"upstream","primary":"yes"}}}}`,
			func(a *activity.Activity) any { return a.Payload.Deployment.Routes[0].Primary }, false},
		{"result null", `"result":null`, func(a *activity.Activity) any { return a.Result }, activity.ResultNone},
		{"timestamp without zone", `"created_at":"2022-12-14T15:41:05.821145"`,
			func(a *activity.Activity) any { return a.CreatedAt }, mustTime("2022-12-14T15:41:05.821145Z")},
		{"escaped text", `"text":"a \"b\" \u00e9 \ud83d\ude80"`, func(a *activity.Activity) any { return a.Text }, `a "b" é 🚀`},
		{"invalid UTF-8 in the log is not ours to judge", "\"log\":\"\xff\xfe\",\"text\":\"ok\"",
			func(a *activity.Activity) any { return a.Text }, "ok"},
		{"lone surrogate becomes U+FFFD", `"text":"a\ud800b"`, func(a *activity.Activity) any { return a.Text }, "a\ufffdb"},
		{"repeated member keeps the last", `"state":"pending","state":"complete"`,
			func(a *activity.Activity) any { return a.State }, activity.StateComplete},
		{"unknown top-level keys", `"brand_new":[{"x":1}],"state":"staged"`,
			func(a *activity.Activity) any { return a.State }, activity.StateStaged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := activity.Decode([]byte(`{` + okHead + `,` + tt.body + `}`))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := tt.got(a); got != tt.want {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// Secrets and bulk in the body never reach the model.
func TestDecodeKeepsNoSecrets(t *testing.T) {
	tests := []struct {
		fixture string
		secrets []string
	}{
		{"push-secrets", []string{"SECRET-VAR-VALUE-1234", "SECRET-BASIC-AUTH-PW", "php:memory_limit"}},
		{"environment.cron", []string{"ssh-rsa", "client_ssh_key", "hello world"}},
		{"environment.push", []string{"Found 1 new commit", "512M", "basic_auth"}},
		{"environment.push-2017", []string{"Installing unicorn", "basic_auth"}},
		{"variable-update", []string{"https://api.example.com/v2"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			a := decode(t, tt.fixture)
			dump, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.secrets {
				if strings.Contains(string(dump), s) {
					t.Errorf("decoded activity contains %q", s)
				}
			}
		})
	}
}

// Decoding the big push allocates far less than its 1 MiB log: the log is scanned, never copied.
func TestDecodeDoesNotCopyLog(t *testing.T) {
	body := fixture.Bytes("push-big")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := activity.Decode(body); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 512<<10 {
		t.Errorf("Decode(push-big) allocated %d bytes, want under 512 KiB (the log is 1 MiB)", got)
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range fixture.Names() {
		if name != "push-big" {
			f.Add(fixture.Bytes(name))
		}
	}
	for _, s := range []string{"", "{}", "[]", "null", `{` + okHead + `}`, `{` + okHead + `,"environments":{}}`,
		`{` + okHead + `,"payload":{"commits":[{"author":{"date":"x"}}],"deployment":{"routes":{"u":{}}}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := activity.Decode(body)
		if err != nil {
			if !errors.Is(err, activity.ErrNotActivity) {
				t.Fatalf("error %v does not match ErrNotActivity", err)
			}
			// The decoder and encoding/json agree on what is JSON.
			if de := (*activity.DecodeError)(nil); errors.As(err, &de) && de.Field == "" &&
				(strings.HasPrefix(de.Reason, "invalid JSON") || de.Reason == "body is not JSON") && json.Valid(body) {
				t.Fatalf("Decode says %q but encoding/json finds it valid: %q", err, body)
			}
			return
		}
		if a.ID == "" || a.Type == "" || a.Project == "" {
			t.Fatalf("decoded id/type/project = %q/%q/%q, want all set", a.ID, a.Type, a.Project)
		}
		if !json.Valid(body) {
			t.Fatalf("decoded a body that encoding/json finds invalid: %q", body)
		}
		// The helpers never panic on what Decode accepts.
		a.Status()
		a.LiveURLs()
		a.HeadCommit()
		a.ConsoleURL("https://console.platform.sh")
	})
}
