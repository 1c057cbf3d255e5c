package notifiertest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/activitybridge/activitybridge/notifier"
)

// CheckHiddenTextStripped builds a message whose untrusted text holds bidi controls and zero-width
// characters with build (a service's payload builder) and checks that none reaches the payload (a branch
// name cannot make the title read backwards), while emoji joined by U+200D stay whole. Both services run
// it, so they keep one rule.
func CheckHiddenTextStripped(t *testing.T, build func(notifier.Message) any) {
	t.Helper()
	const rlo = "\u202E"
	msg := notifier.Message{
		Status: notifier.StatusSuccess,
		Title:  "feature/" + rlo + "tpircs" + "\u2066x\u2069 deployed 👩\u200D💻",
		Text:   "pushed by ad\u200Bmin\u200D: " + rlo + "olleh\u202C and 🏳\uFE0F\u200D🌈",
		Fields: []notifier.Field{{Name: "Commit" + rlo, Value: "abc " + rlo + "fix\u2067"}},
		List:   &notifier.List{Name: "Commits", Items: []string{rlo + "one\uFEFF", "two\u2068"}},
		Footer: "development · " + rlo + "niam",
	}
	b, err := json.Marshal(build(msg))
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, c := range []string{"\u202A", "\u202B", "\u202C", "\u202D", "\u202E", "\u2066", "\u2067", "\u2068", "\u2069", "\uFEFF", "\u200Bmin", "min\u200D"} {
		if strings.Contains(got, c) {
			t.Errorf("payload contains %+q: %s", c, got)
		}
	}
	for _, want := range []string{"tpircs", "olleh", "niam", "👩\u200D💻", "🏳\uFE0F\u200D🌈"} {
		if !strings.Contains(got, want) {
			t.Errorf("payload lacks %+q: %s", want, got)
		}
	}
}
