package render

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/notifier"
)

// Health is what a health notice's templates see in Data.Health (strings cleaned like every other).
type Health struct {
	// Service is the application or service the notification is about, such as "mysql".
	Service string
	// Instance is its instance, such as "0".
	Instance string
	// Component is what is wrong, such as "disk"; Subcomponent which part, such as "persistent".
	Component, Subcomponent string
	// Severity is the platform's word: "warning", "critical", or an all-clear's.
	Severity string
	// Message is the platform's message, such as "less than 214.748 MB available".
	Message string
	// MachineName is the environment's machine name as sent, such as "master-7rqtwti".
	MachineName string
	// Figures are the numbers the notification carries in words, such as "128 MiB of 1 GiB free (12.5 %)".
	Figures string
}

// HealthSample is the health notification Check executes the health templates against: the public
// documentation's example (internal/fixture/health.webhook.json) reduced to what DecodeHealth keeps, so
// that the binary carries no fixture.
const HealthSample = `{"project": {"id": "test_project", "title": "Test project"}, "event": {"time": "2019-07-16T23:13:12.099235+00:00", ` +
	`"origin": {"project": "test_project", "environment": "master-7rqtwti", "service": "mysql", "instance": "0"}, ` +
	`"component": "disk", "subcomponent": "persistent", "severity": "warning", "message": "less than 214.748 MB available", ` +
	`"metrics": {"total:byte": 1073741824, "available:byte": 134217728}}}`

// RenderHealth renders a health notification with the template set named set ("" means DefaultSet):
// the templates of type health.<component> (the default sets' health.tmpl serves every component).
func (r *Renderer) RenderHealth(h *activity.Health, set string) (notifier.Message, error) {
	if h == nil {
		return notifier.Message{}, errors.New("render: no health notification")
	}
	s, err := r.set(set)
	if err != nil {
		return notifier.Message{}, err
	}
	d := r.healthData(h)
	msg, err := execute(s.lookup(d.Type), d)
	if err != nil {
		return notifier.Message{}, fmt.Errorf("render %s notification %s with template set %q: %w", d.Type, h.ID, s.name, err)
	}
	msg.Status = notifier.Status(h.Status())
	msg.Time = h.Time.UTC()
	return msg, nil
}

// healthData builds the data templates see from a health notification.
func (r *Renderer) healthData(h *activity.Health) *Data {
	d := &Data{
		ID:     clean(h.ID),
		Type:   clean(h.Type()),
		Action: clean(h.Component),
		State:  string(activity.StateComplete),
		Result: string(h.Result()),
		Status: string(h.Status()),
		Text:   clean(h.Message),
		Time:   h.Time.UTC(),
		Health: Health{
			Service: clean(h.Service), Instance: clean(h.Instance), Component: clean(h.Component),
			Subcomponent: clean(h.Subcomponent), Severity: clean(h.Severity), Message: clean(h.Message),
			MachineName: clean(h.MachineName), Figures: figures(h.Metrics),
		},
		Project:     newProject(clean(h.Project), clean(h.ProjectTitle)),
		Environment: Environment{Name: clean(h.Environment)},
		ConsoleURL:  clean(h.ConsoleURL(r.consoleURL)),
	}
	if name := clean(r.names[h.Project]); name != "" {
		d.Project = newProject(d.Project.ID, name)
	}
	return d
}

// checkHealth executes the health templates of every set against the health sample.
func (r *Renderer) checkHealth(sets []string) []error {
	h, err := activity.DecodeHealth([]byte(HealthSample))
	if err != nil {
		return []error{fmt.Errorf("health sample: %w", err)}
	}
	var errs []error
	for _, name := range sets {
		msg, err := execute(r.sets[name].lookup(h.Type()), r.healthData(h))
		if err == nil && msg.Title == "" {
			err = errors.New(`"title" renders empty`)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("template set %q, type %s, health sample: %w", name, h.Type(), err))
		}
	}
	return errs
}

// figures puts a notification's metrics in words: "128 MiB of 1 GiB free (12.5 %)" for the disk's
// available:byte and total:byte, then any other metric as "name value" (bytes in binary units, a
// :percent as %), sorted by name, separated by "; ".
func figures(m map[string]float64) string {
	var parts []string
	rest := maps.Clone(m)
	if avail, ok := m["available:byte"]; ok {
		if total, ok := m["total:byte"]; ok && total > 0 {
			parts = append(parts, fmt.Sprintf("%s of %s free (%s %%)", bytesText(avail), bytesText(total), number(100*avail/total)))
			delete(rest, "available:byte")
			delete(rest, "total:byte")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(rest)) {
		name, unit, _ := strings.Cut(k, ":")
		v := rest[k]
		switch unit {
		case "byte", "bytes":
			parts = append(parts, name+" "+bytesText(v))
		case "percent":
			parts = append(parts, name+" "+number(v)+" %")
		default:
			parts = append(parts, strings.TrimSpace(name+" "+number(v)+" "+unit))
		}
	}
	return clean(strings.Join(parts, "; "))
}

// bytesText prints n bytes in binary units with at most one decimal: "128 MiB", "1 GiB", "1.5 KiB".
func bytesText(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	return number(n) + " " + units[i]
}

// number prints f with at most one decimal, without a trailing ".0".
func number(f float64) string {
	return strconv.FormatFloat(float64(int64(f*10+0.5))/10, 'f', -1, 64)
}
