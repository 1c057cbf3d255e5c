package activity_test

import (
	"bytes"
	"compress/gzip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/activity"
)

func TestEnvironmentName(t *testing.T) {
	tests := []struct {
		name string
		a    *activity.Activity
		want string
	}{
		{"docs push", decode(t, "environment.push"), "main"},
		{"2017 push", decode(t, "environment.push-2017"), "master"},
		{"branch", decode(t, "branch"), "feature-x"},
		{"project activity", decode(t, "domain-create"), ""},
		{"minimal", decode(t, "minimal"), ""},
		{"parameters only", &activity.Activity{Parameters: activity.Parameters{Environment: "p"}}, "p"},
		{"empty environments[0]", &activity.Activity{Environments: []string{""}, Parameters: activity.Parameters{Environment: "p"}}, "p"},
		{"payload only", &activity.Activity{Payload: activity.Payload{Environment: &activity.Environment{Name: "n"}}}, "n"},
	}
	for _, tt := range tests {
		if got := tt.a.EnvironmentName(); got != tt.want {
			t.Errorf("%s: EnvironmentName() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestEnvironmentType(t *testing.T) {
	tests := []struct {
		name string
		a    *activity.Activity
		want string
	}{
		{"docs push", decode(t, "environment.push"), "production"},
		{"branch", decode(t, "branch"), "development"},
		{"synchronize", decode(t, "synchronize"), "staging"},
		{"2017 push: main environment, so production", decode(t, "environment.push-2017"), "production"},
		{"no type, not main", &activity.Activity{Environments: []string{"dev"}, Payload: activity.Payload{Environment: &activity.Environment{Name: "dev"}}}, ""},
		{"no type, main", &activity.Activity{Environments: []string{"master"}, Payload: activity.Payload{Environment: &activity.Environment{Name: "master", IsMain: true}}}, "production"},
		{"minimal", decode(t, "minimal"), ""},
		{"deployment only", &activity.Activity{Payload: activity.Payload{Deployment: &activity.Deployment{EnvironmentType: "staging"}}}, "staging"},
		{"environment wins", &activity.Activity{Payload: activity.Payload{Environment: &activity.Environment{Type: "development"},
			Deployment: &activity.Deployment{EnvironmentType: "staging"}}}, "development"},
	}
	for _, tt := range tests {
		if got := tt.a.EnvironmentType(); got != tt.want {
			t.Errorf("%s: EnvironmentType() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestProjectTitle(t *testing.T) {
	tests := []struct {
		name string
		a    *activity.Activity
		want string
	}{
		{"cron has payload.project", decode(t, "environment.cron"), "php-test"},
		{"push has deployment.project_info", decode(t, "environment.push"), "abcdefgh1234567"},
		{"2017 push has neither", decode(t, "environment.push-2017"), ""},
		{"untitled project falls back", &activity.Activity{Payload: activity.Payload{Project: &activity.Project{ID: "p"},
			Deployment: &activity.Deployment{ProjectTitle: "Shop"}}}, "Shop"},
		{"minimal", decode(t, "minimal"), ""},
	}
	for _, tt := range tests {
		if got := tt.a.ProjectTitle(); got != tt.want {
			t.Errorf("%s: ProjectTitle() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestHeadCommit(t *testing.T) {
	tests := []struct {
		name        string
		a           *activity.Activity
		wantSHA     string
		wantSubject string
		wantOK      bool
	}{
		{"docs push: new_commit, not the stale head_commit", decode(t, "environment.push"), "2bab04e050279ac078d5d34016f5dd9c466e948d", "Add cron", true},
		{"2017 push", decode(t, "environment.push-2017"), "8d2e6003d50136c750fb8b65ec506ee3aa4a5b15", "deploy with release candidates", true},
		{"push in progress", decode(t, "push-in-progress"), "2bab04e050279ac078d5d34016f5dd9c466e948d", "Add cron", true},
		{"big push: first listed", decode(t, "push-big"), decode(t, "push-big").Payload.Commits[0].SHA, "Change number 40 of the big push", true},
		{"redeploy: environment head", decode(t, "redeploy"), "6aac318907b50252976c47e4e62ed95d438af0ea", "", true},
		{"merge: environment head", decode(t, "merge"), "7d3e5f1a2b3c4d5e6f708192a3b4c5d6e7f80912", "", true},
		{"cron: environment head", decode(t, "environment.cron"), "6aac318907b50252976c47e4e62ed95d438af0ea", "", true},
		{"push whose commit is not listed", &activity.Activity{Type: "environment.push", Parameters: activity.Parameters{NewCommit: "abc"}}, "abc", "", true},
		{"new_commit ignored for non-push", &activity.Activity{Type: "environment.redeploy", Parameters: activity.Parameters{NewCommit: "abc"}}, "", "", false},
		{"minimal", decode(t, "minimal"), "", "", false},
		{"domain", decode(t, "domain-create"), "", "", false},
	}
	for _, tt := range tests {
		c, ok := tt.a.HeadCommit()
		if c.SHA != tt.wantSHA || c.Subject() != tt.wantSubject || ok != tt.wantOK {
			t.Errorf("%s: HeadCommit() = %q %q %v, want %q %q %v", tt.name, c.SHA, c.Subject(), ok, tt.wantSHA, tt.wantSubject, tt.wantOK)
		}
	}
}

func TestCommitList(t *testing.T) {
	three := []activity.Commit{{SHA: "a"}, {SHA: "b"}, {SHA: "c"}}
	tests := []struct {
		name      string
		a         *activity.Activity
		wantFirst string
		wantLen   int
		wantTotal int
	}{
		{"docs push", decode(t, "environment.push"), "2bab04e050279ac078d5d34016f5dd9c466e948d", 1, 1},
		{"big push in payload order", decode(t, "push-big"), decode(t, "push-big").Payload.Commits[0].SHA, 40, 40},
		{"count above list", &activity.Activity{Payload: activity.Payload{Commits: three, CommitsCount: 12}}, "a", 3, 12},
		{"count missing", &activity.Activity{Payload: activity.Payload{Commits: three}}, "a", 3, 3},
		{"cron has none", decode(t, "environment.cron"), "", 0, 0},
	}
	for _, tt := range tests {
		commits, total := tt.a.CommitList()
		first := ""
		if len(commits) > 0 {
			first = commits[0].SHA
		}
		if first != tt.wantFirst || len(commits) != tt.wantLen || total != tt.wantTotal {
			t.Errorf("%s: CommitList() = first %q, %d commits, total %d; want %q, %d, %d", tt.name, first, len(commits), total,
				tt.wantFirst, tt.wantLen, tt.wantTotal)
		}
	}
}

func TestLiveURLs(t *testing.T) {
	routes := func(rs ...activity.Route) *activity.Activity {
		return &activity.Activity{Payload: activity.Payload{Deployment: &activity.Deployment{Routes: rs}}}
	}
	tests := []struct {
		name string
		a    *activity.Activity
		want []string
	}{
		{"docs push: the one upstream, no redirects", decode(t, "environment.push"), []string{"https://main-abcd123-abcdefgh1234567.eu-3.platformsh.site/"}},
		{"2017 push: upstream without primary", decode(t, "environment.push-2017"), []string{"https://master-7rqtwti-sx-this-is-an-example-value-hu.eu.platform.sh/"}},
		{"no deployment", decode(t, "push-in-progress"), nil},
		{"only redirects", routes(activity.Route{URL: "http://a/", Type: "redirect", To: "https://a/"}), nil},
		{"primary first, then https, then by URL", routes(
			activity.Route{URL: "https://b.example/", Type: "upstream"},
			activity.Route{URL: "http://a.example/", Type: "upstream"},
			activity.Route{URL: "https://z.example/", Type: "redirect"},
			activity.Route{URL: "http://p.example/", Type: "upstream", Primary: true},
			activity.Route{URL: "https://a.example/", Type: "upstream"},
		), []string{"http://p.example/", "https://a.example/", "https://b.example/", "http://a.example/"}},
	}
	for _, tt := range tests {
		if got := tt.a.LiveURLs(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: LiveURLs() = %q, want %q", tt.name, got, tt.want)
		}
	}

	t.Run("big push", func(t *testing.T) {
		a := decode(t, "push-big")
		got := a.LiveURLs()
		upstreams := 0
		for _, r := range a.Payload.Deployment.Routes {
			if r.Type == "upstream" {
				upstreams++
			}
		}
		if len(got) != upstreams || upstreams != 150 {
			t.Errorf("len(LiveURLs()) = %d, upstream routes = %d, want both 150", len(got), upstreams)
		}
		if len(got) > 0 && got[0] != "https://site117.example.com/" {
			t.Errorf("LiveURLs()[0] = %q, want the primary https://site117.example.com/", got[0])
		}
		lastHTTPS := slices.IndexFunc(got, func(u string) bool { return strings.HasPrefix(u, "http://") })
		if lastHTTPS < 0 || !slices.IsSorted(got[1:lastHTTPS]) || !slices.IsSorted(got[lastHTTPS:]) {
			t.Errorf("LiveURLs() after the primary are not https sorted, then http sorted: %q", got)
		}
		for _, u := range got[lastHTTPS:] {
			if !strings.HasPrefix(u, "http://") {
				t.Errorf("https URL %q after an http one", u)
			}
		}
	})
}

func TestDuration(t *testing.T) {
	start := time.Date(2022, 12, 14, 15, 41, 0, 0, time.UTC)
	tests := []struct {
		name   string
		a      *activity.Activity
		want   time.Duration
		wantOK bool
	}{
		{"docs push", decode(t, "environment.push"), 51665570 * time.Microsecond, true},
		{"cancelled", decode(t, "push-cancelled"), 14530128 * time.Microsecond, true},
		{"in progress", decode(t, "push-in-progress"), 0, false},
		{"pending", decode(t, "push-pending"), 0, false},
		{"minimal", decode(t, "minimal"), 0, false},
		{"end before start", &activity.Activity{StartedAt: start, CompletedAt: start.Add(-time.Second)}, 0, false},
		{"completed wins over cancelled", &activity.Activity{StartedAt: start, CompletedAt: start.Add(time.Minute), CancelledAt: start.Add(time.Hour)}, time.Minute, true},
	}
	for _, tt := range tests {
		got, ok := tt.a.Duration()
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: Duration() = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestActor(t *testing.T) {
	tests := []struct {
		name string
		a    *activity.Activity
		want string
	}{
		{"docs push", decode(t, "environment.push"), "Cloé Weber"},
		{"cron bot", decode(t, "environment.cron"), "Platform.sh Bot"},
		{"hostile", decode(t, "push-hostile"), "Mallory <@U123> @everyone"},
		{"parameters.user only", &activity.Activity{Parameters: activity.Parameters{User: "admin"}}, "admin"},
		{"minimal", decode(t, "minimal"), ""},
	}
	for _, tt := range tests {
		if got := tt.a.Actor(); got != tt.want {
			t.Errorf("%s: Actor() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestStatus(t *testing.T) {
	failed := []activity.Command{{App: "app", Type: "build"}, {App: "app", Type: "deploy", ExitCode: 1}}
	passed := []activity.Command{{App: "app", Type: "deploy"}}
	tests := []struct {
		name     string
		state    activity.State
		result   activity.Result
		commands []activity.Command
		want     activity.Status
	}{
		{"pending", activity.StatePending, activity.ResultNone, nil, activity.StatusPending},
		{"scheduled", activity.StateScheduled, activity.ResultNone, nil, activity.StatusPending},
		{"staged", activity.StateStaged, activity.ResultNone, nil, activity.StatusPending},
		{"in progress", activity.StateInProgress, activity.ResultNone, nil, activity.StatusRunning},
		{"in progress with a failed command so far", activity.StateInProgress, activity.ResultNone, failed, activity.StatusRunning},
		{"cancelled (result failure)", activity.StateCancelled, activity.ResultFailure, nil, activity.StatusCancelled},
		{"complete failure", activity.StateComplete, activity.ResultFailure, nil, activity.StatusFailure},
		{"complete success", activity.StateComplete, activity.ResultSuccess, passed, activity.StatusSuccess},
		{"complete success but a hook failed", activity.StateComplete, activity.ResultSuccess, failed, activity.StatusFailure},
		{"complete without result", activity.StateComplete, activity.ResultNone, nil, activity.StatusSuccess},
		{"unknown state", "paused", activity.ResultNone, nil, activity.StatusPending},
	}
	for _, tt := range tests {
		a := &activity.Activity{State: tt.state, Result: tt.result, Commands: tt.commands}
		if got := a.Status(); got != tt.want {
			t.Errorf("%s: Status() = %q, want %q", tt.name, got, tt.want)
		}
	}
	fixtures := map[string]activity.Status{
		"environment.push": activity.StatusSuccess, "push-failure": activity.StatusFailure, "push-cancelled": activity.StatusCancelled,
		"push-in-progress": activity.StatusRunning, "push-pending": activity.StatusPending, "minimal": activity.StatusSuccess,
	}
	for name, want := range fixtures {
		if got := decode(t, name).Status(); got != want {
			t.Errorf("%s: Status() = %q, want %q", name, got, want)
		}
	}
}

func TestFailedCommands(t *testing.T) {
	tests := []struct {
		name string
		a    *activity.Activity
		want []activity.Command
	}{
		{"push failure", decode(t, "push-failure"), []activity.Command{{App: "app", Type: "deploy", ExitCode: 2}}},
		{"source operation passed", decode(t, "source-operation"), nil},
		{"no commands", decode(t, "environment.push"), nil},
		{"negative exit code", &activity.Activity{Commands: []activity.Command{{App: "a", ExitCode: -1}}}, []activity.Command{{App: "a", ExitCode: -1}}},
	}
	for _, tt := range tests {
		if got := tt.a.FailedCommands(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: FailedCommands() = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestTime(t *testing.T) {
	tests := []struct {
		name string
		a    *activity.Activity
		want time.Time
	}{
		{"complete: completed_at", decode(t, "environment.push"), mustTime("2022-12-14T15:41:57.635442Z")},
		{"cancelled: cancelled_at", decode(t, "push-cancelled"), mustTime("2022-12-14T15:41:20.5Z")},
		{"in progress: started_at", decode(t, "push-in-progress"), mustTime("2022-12-14T15:41:05.969872Z")},
		{"pending: created_at", decode(t, "push-pending"), mustTime("2022-12-14T15:41:05.821145Z")},
		{"no times", decode(t, "minimal"), time.Time{}},
	}
	for _, tt := range tests {
		if got := tt.a.Time(); !got.Equal(tt.want) {
			t.Errorf("%s: Time() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestConsoleURL(t *testing.T) {
	upsun, err := activity.Decode([]byte(`{"id":"a1","type":"environment.push","project":"p1","environments":["main"],
		"payload":{"project":{"subscription":{"subscription_management_uri":"https://console.upsun.com/acme/-/billing/plan/1"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	upsunRoutes, err := activity.Decode([]byte(`{"id":"a2","type":"environment.push","project":"p2","environments":["main"],
		"payload":{"deployment":{"routes":{"https://main-bvxea6i-p2.eu-5.upsunapp.com/":{"type":"upstream","primary":true}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		a    *activity.Activity
		base string
		want string
	}{
		{"docs push", decode(t, "environment.push"), "https://console.platform.sh",
			"https://console.platform.sh/projects/abcdefgh1234567/main/log/a1kz6ffxui7em"},
		{"base with trailing slash", decode(t, "environment.push"), "https://console.example.com/",
			"https://console.example.com/projects/abcdefgh1234567/main/log/a1kz6ffxui7em"},
		{"platform.sh billing URI names no organization: its ID then", decode(t, "environment.cron"), "https://console.platform.sh",
			"https://console.platform.sh/01FF4NBNVMMDWP1NVK0G4EGJW0/abcdefgh1234567/main/log/ypalrypnezbye"},
		{"project activity", decode(t, "domain-create"), "https://console.platform.sh",
			"https://console.platform.sh/projects/abcdefgh1234567/-/log/l2vj7qqift8px"},
		{"branch with a slash and markup is escaped", decode(t, "push-hostile"), "https://console.platform.sh",
			"https://console.platform.sh/projects/abcdefgh1234567/feat%2F@everyone-%3C%21channel%3E-%2Ax%2A/log/q7ao2vvnky3uc"},
		{"upsun organization from the billing URI", upsun, "https://console.upsun.com", "https://console.upsun.com/acme/p1/main/log/a1"},
		{"the body shows Upsun: its console, whatever the default", upsun, "https://console.platform.sh", "https://console.upsun.com/acme/p1/main/log/a1"},
		{"organization only on its own console", upsun, "https://console.example.com", "https://console.example.com/projects/p1/main/log/a1"},
		{"a project's own console wins", upsun, "https://console.upsun.com, p1=https://console.example.com/", "https://console.example.com/projects/p1/main/log/a1"},
		{"another project's entry does not apply", decode(t, "environment.push-2017"), "abcdefgh1234567=https://console.upsun.com",
			"https://console.platform.sh/projects/sx-this-is-an-example-value-hu/master/log/774-this-is-an-example-valuexzs4no"},
		{"upsunapp.com routes: Upsun", upsunRoutes, "", "https://console.upsun.com/projects/p2/main/log/a2"},
		{"platform.sh routes: Platform.sh", decode(t, "environment.push-2017"), "https://console.upsun.com",
			"https://console.platform.sh/projects/sx-this-is-an-example-value-hu/master/log/774-this-is-an-example-valuexzs4no"},
	}
	for _, tt := range tests {
		if got := tt.a.ConsoleURL(tt.base); got != tt.want {
			t.Errorf("%s: ConsoleURL(%q) = %q, want %q", tt.name, tt.base, got, tt.want)
		}
	}
}

func TestCommitShortAndSubject(t *testing.T) {
	tests := []struct {
		commit      activity.Commit
		wantShort   string
		wantSubject string
	}{
		{activity.Commit{SHA: "2bab04e050279ac078d5d34016f5dd9c466e948d", Message: "Add cron"}, "2bab04e", "Add cron"},
		{activity.Commit{SHA: "abc", Message: "\n\n  Fix the bug  \r\nbody\n"}, "abc", "Fix the bug"},
		{activity.Commit{Message: "one\r\ntwo"}, "", "one"},
		{activity.Commit{}, "", ""},
	}
	for _, tt := range tests {
		if got := tt.commit.Short(); got != tt.wantShort {
			t.Errorf("Commit{SHA: %q}.Short() = %q, want %q", tt.commit.SHA, got, tt.wantShort)
		}
		if got := tt.commit.Subject(); got != tt.wantSubject {
			t.Errorf("Commit{Message: %q}.Subject() = %q, want %q", tt.commit.Message, got, tt.wantSubject)
		}
	}
}

func TestDecodeSaysWhatANonJSONBodyIs(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"id":"a","type":"environment.push","project":"p"}`))
	zw.Close()
	multipart := "--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"push.json\"\r\n\r\n{}\r\n--X--\r\n"
	tests := []struct {
		name, body, want string
	}{
		{"gzip", gz.String(), "not an activity: body is not JSON but gzip-compressed; send plain JSON (no Content-Encoding: gzip)"},
		{"multipart", multipart, "not an activity: body is not JSON but multipart/form-data; send the activity JSON itself as the body (curl --data-binary @file.json, not -F)"},
		{"form", "payload=%7B%22id%22%7D", "not an activity: body is not JSON but form-encoded; send the activity JSON itself as the body (curl --data-binary @file.json)"},
		{"text", "hello", "not an activity: body is not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := activity.Decode([]byte(tt.body))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Decode() error = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestParseConsoles(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"https://console.upsun.com/", "https://console.upsun.com", ""},
		{"https://console.platform.sh, abcdefgh1234567=https://console.upsun.com/", "https://console.platform.sh,abcdefgh1234567=https://console.upsun.com", ""},
		{"console.upsun.com", "", `"console.upsun.com" is not an http(s) URL`},
		{"p=ftp://x", "", `"ftp://x" is not an http(s) URL`},
		{"https://a.example, https://b.example", "", "more than one console without a project"},
	}
	for _, tt := range tests {
		got, err := activity.ParseConsoles(tt.in)
		if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ParseConsoles(%q) = %q, %v; want %q, %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}
