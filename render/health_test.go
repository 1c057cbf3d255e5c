package render_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/notifier"
	"github.com/activitybridge/activitybridge/notifier/discord"
	"github.com/activitybridge/activitybridge/notifier/slack"
	"github.com/activitybridge/activitybridge/render"
)

func healthVariant(t *testing.T, severity string) *activity.Health {
	t.Helper()
	body := strings.Replace(string(fixture.Bytes("health.webhook")), `"severity": "warning"`, `"severity": "`+severity+`"`, 1)
	h, err := activity.DecodeHealth([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestHealthGolden pins the health notices users see (warning, critical, all-clear) on both services in
// every set, and what they say: service, environment, project, the platform's message and the figures.
func TestHealthGolden(t *testing.T) {
	r, err := render.New(render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range r.Sets() {
		for _, sev := range []string{"warning", "critical", "normal"} {
			t.Run(set+"/"+sev, func(t *testing.T) {
				h := healthVariant(t, sev)
				msg, err := r.RenderHealth(h, set)
				if err != nil {
					t.Fatal(err)
				}
				wantStatus := map[string]notifier.Status{"warning": notifier.StatusWarning, "critical": notifier.StatusCritical, "normal": notifier.StatusSuccess}[sev]
				if msg.Status != wantStatus {
					t.Errorf("Status = %q, want %q", msg.Status, wantStatus)
				}
				for _, want := range []string{"mysql", "master", "Test project"} {
					if !strings.Contains(msg.Title, want) {
						t.Errorf("title %q does not name %q", msg.Title, want)
					}
				}
				if msg.Text != "less than 214.748 MB available" {
					t.Errorf("text %q, want the platform's message", msg.Text)
				}
				if f := fieldNamed(msg, "Disk"); f.Value != "128 MiB of 1 GiB free (12.5 %)" {
					t.Errorf("Disk field %q", f.Value)
				}
				base := set + "/health/health.webhook-" + sev
				goldenJSON(t, base+".message.golden.json", msg)
				goldenJSON(t, base+".slack.golden.json", slack.Build(msg))
				goldenJSON(t, base+".discord.golden.json", discord.Build(msg))
			})
		}
	}
}

func TestHealthProjectName(t *testing.T) {
	r, err := render.New(render.Options{ProjectNames: map[string]string{"test_project": "My Shop"}})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := r.RenderHealth(healthVariant(t, "warning"), "")
	if err != nil {
		t.Fatal(err)
	}
	if msg.Title != "low disk space on mysql · master · My Shop" || !strings.Contains(msg.Footer, "test_project") {
		t.Errorf("title %q, footer %q", msg.Title, msg.Footer)
	}
}

// The Open project link of a health notice takes the project's BRIDGE_PUBLIC_CONSOLE_URL entry (it was
// built from the whole value, entries and all).
func TestHealthConsoleEntry(t *testing.T) {
	r, err := render.New(render.Options{ConsoleURL: "https://console.platform.sh,test_project=https://console.upsun.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range r.Sets() {
		msg, err := r.RenderHealth(healthVariant(t, "warning"), set)
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Links) != 1 || msg.Links[0].URL != "https://console.upsun.com/projects/test_project" {
			t.Errorf("set %s: links %+v, want Open project https://console.upsun.com/projects/test_project", set, msg.Links)
		}
	}
}

// A health template that breaks is reported at start-up, naming the set, the type and the sample.
func TestHealthTemplateChecked(t *testing.T) {
	dir := writeFiles(t, map[string]string{"health.tmpl": `{{define "title"}}{{.Health.Nope}}{{end}}`})
	_, err := render.New(render.Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "health") {
		t.Errorf("New with a broken health.tmpl: err = %v", err)
	}
}

// The health sample the start-up check uses decodes exactly as the documentation's example does.
func TestHealthSampleIsTheFixture(t *testing.T) {
	got, err := activity.DecodeHealth([]byte(render.HealthSample))
	if err != nil {
		t.Fatal(err)
	}
	want, err := activity.DecodeHealth(fixture.Bytes("health.webhook"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("HealthSample decodes to\n%+v\nthe fixture to\n%+v", got, want)
	}
}
