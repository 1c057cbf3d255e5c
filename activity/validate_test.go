package activity_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/activitybridge/activitybridge/activity"
)

// TestDecodeRefusesWhatCannotBeStored: the outbox keys on id and state and the logs carry the names;
// a body whose values no Platform.sh activity has is refused with the field named, and the error never
// repeats a long value.
func TestDecodeRefusesWhatCannotBeStored(t *testing.T) {
	body := func(fields ...string) string {
		return `{` + strings.Join(append([]string{`"type":"environment.push"`, `"project":"p1"`}, fields...), ",") + `}`
	}
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name      string
		body      string
		wantField string // "" when the body is fine
	}{
		{"a Platform.sh id", body(`"id":"o5ym0ttliw1sa"`, `"state":"complete"`), ""},
		{"id of 128 bytes", body(`"id":"`+long(128)+`"`, `"state":"pending"`), ""},
		{"id of 129 bytes", body(`"id":"`+long(129)+`"`, `"state":"pending"`), "id"},
		{"id of 32,748 characters", body(`"id":"`+long(32748)+`"`, `"state":"pending"`), "id"},
		{"id of 1 MB", body(`"id":"`+long(1<<20)+`"`, `"state":"pending"`), "id"},
		{"id with an escaped NUL", body(`"id":"a1\u0000"`, `"state":"pending"`), "id"},
		{"id with a newline", body(`"id":"a1\n"`, `"state":"pending"`), "id"},
		{"id not ASCII", body(`"id":"café"`, `"state":"pending"`), "id"},
		{"every state Platform.sh sends", body(`"id":"a1"`, `"state":"scheduled"`), ""},
		{"no state", body(`"id":"a1"`), ""},
		{"state bogus", body(`"id":"a1"`, `"state":"bogus"`), "state"},
		{"state of 40 KB", body(`"id":"a1"`, `"state":"`+long(40<<10)+`"`), "state"},
		{"state in capitals", body(`"id":"a1"`, `"state":"COMPLETE"`), "state"},
		{"type of 257 bytes", `{"id":"a1","type":"` + long(257) + `","project":"p1"}`, "type"},
		{"project of 257 bytes", `{"id":"a1","type":"t","project":"` + long(257) + `"}`, "project"},
		{"environment of 256 bytes", body(`"id":"a1"`, `"environments":["`+long(256)+`"]`), ""},
		{"environment of 257 bytes", body(`"id":"a1"`, `"environments":["main","`+long(257)+`"]`), "environments.1"},
		{"parameters.environment too long", body(`"id":"a1"`, `"parameters":{"environment":"`+long(300)+`"}`), "parameters.environment"},
		{"payload.environment.name too long", body(`"id":"a1"`, `"payload":{"environment":{"name":"`+long(300)+`"}}`), "payload.environment.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := activity.Decode([]byte(tt.body))
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Decode = %v; want the activity", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Decode = %+v; want an error naming %q", a, tt.wantField)
			}
			var de *activity.DecodeError
			if !errors.As(err, &de) || de.Field != tt.wantField || !errors.Is(err, activity.ErrNotActivity) {
				t.Errorf("Decode error = %v; want a DecodeError naming field %q", err, tt.wantField)
			}
			if len(err.Error()) > 200 {
				t.Errorf("error of %d bytes: %.100s…; want it short whatever the value", len(err.Error()), err)
			}
		})
	}
}

func TestStateKnown(t *testing.T) {
	for _, s := range activity.States {
		if !s.Known() {
			t.Errorf("%s.Known() = false", s)
		}
	}
	for _, s := range []activity.State{"", "bogus", "Complete"} {
		if s.Known() {
			t.Errorf("%q.Known() = true", s)
		}
	}
}
