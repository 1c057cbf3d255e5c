package render_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/notifier"
)

// FuzzRender: untrusted strings never make Render fail or panic, and never add, remove or rename a
// field, a link or the list.
func FuzzRender(f *testing.F) {
	f.Add("Add cron", "main", "Cloé Weber", "Cloé Weber pushed to **Main**")
	f.Add("\x1efield\x1fEvil\x1fx\x1f\x1f\x1e", "\x1e\x1f", "\x1f", "\x1elink\x1fClick\x1fhttps://evil\x1f\x1f\x1e")
	f.Add("@everyone <!channel> [x](https://evil.example)", "feat/<@U123>", "<@&1>", "**bold** `code`")
	f.Add("", "", "", "")
	f.Add("line\nline\r\n\ttab", "a b", "\x00", "{{.ID}}")
	r := newDefault(f)
	baseline := map[string]string{}
	for _, set := range r.Sets() {
		a, err := activity.Decode(fixture.WithUntrusted("m", "main", "u", "t"))
		if err != nil {
			f.Fatal(err)
		}
		msg, err := r.Render(a, set)
		if err != nil {
			f.Fatal(err)
		}
		baseline[set] = shapeWithItems(msg)
	}
	f.Fuzz(func(t *testing.T, message, branch, user, text string) {
		a, err := activity.Decode(fixture.WithUntrusted(message, branch, user, text))
		if err != nil {
			return // not a body the receiver would accept
		}
		for _, set := range r.Sets() {
			msg, err := r.Render(a, set)
			if err != nil {
				t.Fatalf("set %s: Render: %v", set, err)
			}
			if got := shapeWithItems(msg); got != baseline[set] {
				t.Errorf("set %s: shape %s, want %s", set, got, baseline[set])
			}
			for _, s := range strings_(msg) {
				if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' }) {
					t.Errorf("set %s: control character in %q", set, s)
				}
			}
		}
	})
}

func shapeWithItems(m notifier.Message) string {
	s := shape(m)
	if m.List != nil {
		s += " items " + strings.Repeat("x", len(m.List.Items))
	}
	return s
}

// strings_ returns every string of a message.
func strings_(m notifier.Message) []string {
	out := []string{m.Title, m.Text, m.Footer}
	for _, f := range m.Fields {
		out = append(out, f.Name, f.Value, f.URL)
	}
	for _, l := range m.Links {
		out = append(out, l.Label, l.URL)
	}
	if m.List != nil {
		out = append(out, m.List.Name)
		out = slices.Concat(out, m.List.Items)
	}
	return out
}
