package activity

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Health notifications are what a health.webhook integration posts (Platform.sh, Upsun, SymfonyCloud):
// not an activity, but one JSON object with the project and an event, e.g.
//
//	{"project": {"id": "test_project", "title": "Test project", ...},
//	 "event": {"time": "2019-07-16T23:13:12.099235+00:00",
//	           "origin": {"project": "test_project", "environment": "master-7rqtwti", "service": "mysql", "instance": "0"},
//	           "component": "disk", "subcomponent": "persistent", "severity": "warning",
//	           "message": "less than 214.748 MB available",
//	           "metrics": {"total:byte": 1073741824, "available:byte": 134217728}}}
//
// What the platform documents (docs/src/integrations/notifications.md, "Health notifications"): the
// only notification is the low-disk one, for every application and service: "warning" when available
// disk space drops below 20%, "critical" below 10%, and an all-clear when it goes back above 20% after
// having been lower; checked every 5 minutes. Other notifications "may be added in the future". The
// docs do not give the all-clear's severity string or any other component, so HealthStatus reads
// "warning" and "critical" as such, the usual all-clear words (normal, ok, info, clear, all-clear,
// resolved, recovered) as a success, and anything else as a warning that names the severity.

// The statuses of a health notification, in addition to StatusSuccess for an all-clear.
const (
	StatusWarning  Status = "warning"
	StatusCritical Status = "critical"
)

// ErrNotHealth is matched (errors.Is) by every error DecodeHealth returns.
var ErrNotHealth = errors.New("not a health notification")

// HealthError is the error DecodeHealth returns; Field names the offending member by its path
// ("event.component"), or is empty when the body as a whole is wrong.
type HealthError struct {
	Field  string
	Reason string
	// NoEvent is true when the body has no "event" object at all: it is not trying to be a health
	// notification, so an activity's error says more.
	NoEvent bool
}

// Error says what is wrong, starting with "not a health notification: ".
func (e *HealthError) Error() string {
	if e.Field == "" {
		return "not a health notification: " + e.Reason
	}
	return fmt.Sprintf("not a health notification: field %q: %s", e.Field, e.Reason)
}

// Is makes every HealthError match ErrNotHealth.
func (e *HealthError) Is(target error) bool { return target == ErrNotHealth }

// Health is one health notification, reduced to what a notice shows. The project's SSH key,
// subscription and repository, which the body also carries, are never kept.
type Health struct {
	// ID identifies this notification: derived from what it says (project, environment, service,
	// instance, component, subcomponent, severity and time), so that the same notification delivered
	// twice has the same ID and yields one message, while the next one (a later time, or another
	// severity) is a new message.
	ID string
	// Project is the project ID (event.origin.project, else project.id).
	Project string
	// ProjectTitle is project.title ("" when the body has none).
	ProjectTitle string
	// MachineName is event.origin.environment as sent: the environment's machine name, such as
	// "master-7rqtwti".
	MachineName string
	// Environment is the environment's name as far as the machine name tells: MachineName without its
	// "-" and 7-character suffix ("master"). Routes match on it.
	Environment string
	// Service and Instance say where: the application or service ("mysql") and its instance ("0").
	Service, Instance string
	// Component is what is wrong ("disk"), Subcomponent which part of it ("persistent").
	Component, Subcomponent string
	// Severity is the platform's word: "warning", "critical", or the all-clear's.
	Severity string
	// Message is the platform's message, such as "less than 214.748 MB available".
	Message string
	// Time is when the platform noticed (zero when the body does not say).
	Time time.Time
	// Metrics are the figures the event carries, by the platform's name ("total:byte",
	// "available:byte"); only numbers are kept.
	Metrics map[string]float64
	// console is the console project.subscription.subscription_management_uri is on (see Console).
	console string
}

// Console returns the console of the platform the body shows the project is on (the host of its
// subscription's management URI: console.upsun.com or console.platform.sh), or "" when it does not tell.
func (h *Health) Console() string { return h.console }

// ConsoleURL returns a link to the project in the web console chosen as for an activity (see
// Activity.ConsoleBase): the project's own BRIDGE_PUBLIC_CONSOLE_URL entry, else the console the body
// shows, else the plain URL. A notification names no organization, so the link is project-scoped:
// <console>/projects/<project>.
func (h *Health) ConsoleURL(consoles string) string {
	return pickConsole(consoles, h.Project, h.Console) + "/projects/" + url.PathEscape(h.Project)
}

// Type returns the type a health notification is routed and rendered as: "health." and the
// component, e.g. "health.disk".
func (h *Health) Type() string { return "health." + h.Component }

// Status returns the outcome a notice shows: StatusCritical or StatusWarning by severity, StatusSuccess
// for an all-clear, StatusWarning for a severity nobody documented.
func (h *Health) Status() Status {
	switch s := strings.ToLower(h.Severity); s {
	case "critical", "error", "emergency", "alert":
		return StatusCritical
	case "normal", "ok", "info", "clear", "all-clear", "all_clear", "allclear", "resolved", "recovered", "recovery":
		return StatusSuccess
	}
	return StatusWarning
}

// Result returns what a routes results= filter sees: "failure" for a critical notification,
// "success" for an all-clear, "" (none) for a warning.
func (h *Health) Result() Result {
	switch h.Status() {
	case StatusCritical:
		return ResultFailure
	case StatusSuccess:
		return ResultSuccess
	}
	return ResultNone
}

// Bounds of the kept strings: the keys a route or an ID is made of are refused when longer, the
// message is cut.
const (
	maxHealthKey     = 128
	maxHealthMessage = 2000
)

var (
	componentRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	machineSuffixRE = regexp.MustCompile(`^(.+)-[a-z0-9]{7}$`)
)

type wireHealth struct {
	Project json.RawMessage `json:"project"` // an object here; a string in an activity
	Event   *struct {
		Time   *string `json:"time"`
		Origin *struct {
			Project     *string `json:"project"`
			Environment *string `json:"environment"`
			Service     *string `json:"service"`
			Instance    any     `json:"instance"`
		} `json:"origin"`
		Component    *string                    `json:"component"`
		Subcomponent *string                    `json:"subcomponent"`
		Severity     *string                    `json:"severity"`
		Message      *string                    `json:"message"`
		Metrics      map[string]json.RawMessage `json:"metrics"`
	} `json:"event"`
}

// DecodeHealthInstead decodes a body that Decode refused with actErr as a health notification. When the
// body is not one either, the error is actErr (why it is not an activity), unless the body has an event
// object: then it was meant as a health notification and DecodeHealth's error says more.
func DecodeHealthInstead(body []byte, actErr error) (*Health, error) {
	h, err := DecodeHealth(body)
	var he *HealthError
	if errors.As(err, &he) && he.NoEvent {
		return nil, actErr
	}
	return h, err
}

// DecodeHealth decodes the JSON body of a health.webhook notification. It returns a *HealthError
// (matching ErrNotHealth) when the body is not a JSON object, has no "event" object (NoEvent), or lacks
// a project, a component or a severity, has one of them or the environment or service over 128 bytes,
// a component that is not a lower-case word (it becomes part of the type), or invalid UTF-8 in a kept
// string.
func DecodeHealth(body []byte) (*Health, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, &HealthError{Reason: "body is not a JSON object", NoEvent: true}
	}
	var w wireHealth
	if err := json.Unmarshal(body, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, &HealthError{Field: te.Field, Reason: "want " + wantKind(te.Type) + ", got " + te.Value, NoEvent: !strings.HasPrefix(te.Field, "event")}
		}
		return nil, &HealthError{Reason: "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: "), NoEvent: true}
	}
	ev := w.Event
	if ev == nil {
		return nil, &HealthError{Field: "event", Reason: "missing: a health notification has an event object", NoEvent: true}
	}
	h := &Health{Metrics: map[string]float64{}}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	if ev.Origin != nil {
		h.Project, h.MachineName, h.Service = str(ev.Origin.Project), str(ev.Origin.Environment), str(ev.Origin.Service)
		switch v := ev.Origin.Instance.(type) {
		case string:
			h.Instance = v
		case float64:
			h.Instance = fmt.Sprint(v)
		}
	}
	var project struct {
		ID           string          `json:"id"`
		Title        string          `json:"title"`
		Subscription json.RawMessage `json:"subscription"` // apart, so that an odd one loses only the console
	}
	if len(w.Project) > 0 && w.Project[0] == '{' && json.Unmarshal(w.Project, &project) == nil {
		if h.Project == "" {
			h.Project = project.ID
		}
		h.ProjectTitle = project.Title
		var sub struct {
			ManagementURI string `json:"subscription_management_uri"`
		}
		if json.Unmarshal(project.Subscription, &sub) == nil {
			if u, err := url.Parse(sub.ManagementURI); err == nil {
				h.console = consoleOfHost(u.Host)
			}
		}
	}
	h.Component, h.Subcomponent = str(ev.Component), str(ev.Subcomponent)
	h.Severity, h.Message = str(ev.Severity), str(ev.Message)
	for _, f := range []struct {
		name, value string
		required    bool
	}{
		{"event.origin.project", h.Project, true}, {"event.component", h.Component, true}, {"event.severity", h.Severity, true},
		{"event.origin.environment", h.MachineName, false}, {"event.origin.service", h.Service, false},
		{"event.origin.instance", h.Instance, false}, {"event.subcomponent", h.Subcomponent, false},
	} {
		switch {
		case f.required && f.value == "":
			return nil, &HealthError{Field: f.name, Reason: "missing or empty"}
		case len(f.value) > maxHealthKey:
			return nil, &HealthError{Field: f.name, Reason: fmt.Sprintf("longer than %d bytes", maxHealthKey)}
		case !utf8.ValidString(f.value):
			return nil, &HealthError{Field: f.name, Reason: "invalid UTF-8 in string"}
		}
	}
	if !componentRE.MatchString(h.Component) {
		return nil, &HealthError{Field: "event.component", Reason: fmt.Sprintf("%q is not a lower-case word such as disk", h.Component)}
	}
	if !utf8.ValidString(h.Message) || !utf8.ValidString(h.ProjectTitle) {
		return nil, &HealthError{Field: "event.message", Reason: "invalid UTF-8 in string"}
	}
	if r := []rune(h.Message); len(r) > maxHealthMessage {
		h.Message = string(r[:maxHealthMessage-1]) + "…"
	}
	if r := []rune(h.ProjectTitle); len(r) > maxHealthKey {
		h.ProjectTitle = string(r[:maxHealthKey])
	}
	h.Environment = h.MachineName
	if m := machineSuffixRE.FindStringSubmatch(h.MachineName); m != nil {
		h.Environment = m[1]
	}
	rawTime := str(ev.Time)
	if t, ok := parseTime(rawTime); ok {
		h.Time = t
	}
	for k, v := range ev.Metrics {
		var f float64
		if len(k) <= maxHealthKey && utf8.ValidString(k) && json.Unmarshal(v, &f) == nil {
			h.Metrics[k] = f
		}
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{h.Project, h.MachineName, h.Service, h.Instance,
		h.Component, h.Subcomponent, h.Severity, rawTime}, "\x00")))
	h.ID = "health-" + hex.EncodeToString(sum[:8])
	return h, nil
}
