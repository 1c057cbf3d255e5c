package activity_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/fixture"
)

func TestDecodeHealth(t *testing.T) {
	h, err := activity.DecodeHealth(fixture.Bytes("health.webhook"))
	if err != nil {
		t.Fatal(err)
	}
	want := activity.Health{
		Project: "test_project", ProjectTitle: "Test project", MachineName: "master-7rqtwti", Environment: "master",
		Service: "mysql", Instance: "0", Component: "disk", Subcomponent: "persistent", Severity: "warning",
		Message: "less than 214.748 MB available",
		Time:    time.Date(2019, 7, 16, 23, 13, 12, 99235000, time.UTC),
	}
	got := *h
	got.ID, got.Metrics = "", nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DecodeHealth =\n%+v\nwant\n%+v", got, want)
	}
	if h.Metrics["total:byte"] != 1073741824 || h.Metrics["available:byte"] != 134217728 {
		t.Errorf("Metrics = %v", h.Metrics)
	}
	if h.Type() != "health.disk" || h.Status() != activity.StatusWarning || h.Result() != activity.ResultNone {
		t.Errorf("Type %q Status %q Result %q", h.Type(), h.Status(), h.Result())
	}
	if !strings.HasPrefix(h.ID, "health-") || len(h.ID) != len("health-")+16 {
		t.Errorf("ID = %q", h.ID)
	}
	// The same notification twice: the same ID (one message); a later one or another severity: another.
	again, _ := activity.DecodeHealth(fixture.Bytes("health.webhook"))
	later, _ := activity.DecodeHealth([]byte(strings.Replace(string(fixture.Bytes("health.webhook")), "23:13:12", "23:18:12", 1)))
	critical, _ := activity.DecodeHealth([]byte(strings.Replace(string(fixture.Bytes("health.webhook")), `"severity": "warning"`, `"severity": "critical"`, 1)))
	if again.ID != h.ID || later.ID == h.ID || critical.ID == h.ID {
		t.Errorf("IDs: %s, again %s, later %s, critical %s", h.ID, again.ID, later.ID, critical.ID)
	}
	if critical.Status() != activity.StatusCritical || critical.Result() != activity.ResultFailure {
		t.Errorf("critical: Status %q Result %q", critical.Status(), critical.Result())
	}
}

func TestHealthStatus(t *testing.T) {
	for sev, want := range map[string]activity.Status{
		"warning": activity.StatusWarning, "critical": activity.StatusCritical, "CRITICAL": activity.StatusCritical,
		"normal": activity.StatusSuccess, "all-clear": activity.StatusSuccess, "ok": activity.StatusSuccess,
		"something-new": activity.StatusWarning,
	} {
		if got := (&activity.Health{Severity: sev}).Status(); got != want {
			t.Errorf("severity %q: Status %q, want %q", sev, got, want)
		}
	}
}

func TestDecodeHealthErrors(t *testing.T) {
	body := string(fixture.Bytes("health.webhook"))
	tests := []struct {
		name, body, want string
		noEvent          bool
	}{
		{"not JSON", "nope", "body is not a JSON object", true},
		{"an activity", string(fixture.Bytes("environment.push")), `field "event": missing`, true},
		{"no component", strings.Replace(body, `"component": "disk", `, "", 1), `field "event.component": missing or empty`, false},
		{"no severity", strings.Replace(body, `"severity": "warning", `, "", 1), `field "event.severity": missing or empty`, false},
		{"no project", strings.Replace(strings.Replace(body, `"project": "test_project", `, "", 1), `"id": "test_project", `, "", 1), `field "event.origin.project": missing or empty`, false},
		{"component is not a word", strings.Replace(body, `"component": "disk"`, `"component": "Disk <b>"`, 1), `field "event.component": "Disk <b>" is not a lower-case word`, false},
		{"long environment", strings.Replace(body, "master-7rqtwti", strings.Repeat("x", 129), 1), `field "event.origin.environment": longer than 128 bytes`, false},
		{"wrong type", strings.Replace(body, `"component": "disk"`, `"component": 5`, 1), `field "event.component": want a string, got number`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := activity.DecodeHealth([]byte(tt.body))
			var he *activity.HealthError
			if !errors.As(err, &he) || !errors.Is(err, activity.ErrNotHealth) {
				t.Fatalf("err = %v, want a *HealthError", err)
			}
			if !strings.Contains(err.Error(), tt.want) || he.NoEvent != tt.noEvent {
				t.Errorf("err = %v (NoEvent %v), want it to contain %q (NoEvent %v)", err, he.NoEvent, tt.want, tt.noEvent)
			}
		})
	}
}

func FuzzDecodeHealth(f *testing.F) {
	f.Add(fixture.Bytes("health.webhook"))
	f.Add([]byte(`{"event":{"origin":{"project":"p","environment":"e-abcdefg","instance":1},"component":"disk","severity":"critical","metrics":{"x:percent":"no"}}}`))
	f.Add([]byte(`{"event":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		h, err := activity.DecodeHealth(body)
		if err != nil {
			if h != nil || !errors.Is(err, activity.ErrNotHealth) {
				t.Fatalf("DecodeHealth: %v with %+v", err, h)
			}
			return
		}
		if h.Project == "" || h.Component == "" || h.Severity == "" || !strings.HasPrefix(h.Type(), "health.") || len(h.ID) != len("health-")+16 {
			t.Errorf("DecodeHealth(%q) = %+v", body, h)
		}
	})
}

// A health notice's console link follows BRIDGE_PUBLIC_CONSOLE_URL as an activity's does: the project's
// own entry, else the console the body's subscription is on, else the plain URL; never the raw list.
func TestHealthConsoleURL(t *testing.T) {
	doc := string(fixture.Bytes("health.webhook"))
	upsun := strings.Replace(doc, "http://subscription-management", "https://console.upsun.com/acme/-/billing/1", 1)
	for _, tt := range []struct {
		name, body, consoles, want string
	}{
		{"default", doc, "", "https://console.platform.sh/projects/test_project"},
		{"plain URL", doc, "https://console.platform.sh/", "https://console.platform.sh/projects/test_project"},
		{"project entry", doc, "https://console.platform.sh,test_project=https://console.upsun.com", "https://console.upsun.com/projects/test_project"},
		{"another project's entry", doc, "https://console.platform.sh,other=https://console.upsun.com", "https://console.platform.sh/projects/test_project"},
		{"body shows Upsun", upsun, "https://console.platform.sh", "https://console.upsun.com/projects/test_project"},
		{"a proxy wins over the body", upsun, "https://proxy.example.com", "https://proxy.example.com/projects/test_project"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := activity.DecodeHealth([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := h.ConsoleURL(tt.consoles); got != tt.want {
				t.Errorf("ConsoleURL(%q) = %q, want %q", tt.consoles, got, tt.want)
			}
		})
	}
}

// DecodeHealthInstead says why a body is neither: as an activity, unless it has an event object.
func TestDecodeHealthInstead(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{`{"hello":"world"}`, `not an activity: field "id": missing or empty`},
		{`{"event":{"component":"disk"}}`, `not a health notification: field "event.origin.project": missing or empty`},
	} {
		_, actErr := activity.Decode([]byte(tt.body))
		if h, err := activity.DecodeHealthInstead([]byte(tt.body), actErr); h != nil || err == nil || err.Error() != tt.want {
			t.Errorf("DecodeHealthInstead(%s) = %v, %v; want %q", tt.body, h, err, tt.want)
		}
	}
	_, actErr := activity.Decode(fixture.Bytes("health.webhook"))
	if h, err := activity.DecodeHealthInstead(fixture.Bytes("health.webhook"), actErr); err != nil || h.Component != "disk" {
		t.Errorf("DecodeHealthInstead(health.webhook) = %+v, %v", h, err)
	}
}
