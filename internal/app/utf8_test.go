package app_test

import (
	"strings"
	"testing"
)

// TestInvalidUTF8Anywhere: invalid UTF-8 is refused (400) wherever it is in the body, in a field the
// service reads or not (issue 12: "zz":"\xc3\x28" was accepted), while valid UTF-8 of every width passes.
func TestInvalidUTF8Anywhere(t *testing.T) {
	const head = `{"id":"u%s","type":"environment.push","project":"p1",`
	tests := []struct {
		name, body string
		want       int
		reason     string
	}{
		{"unknown field", "\"zz\":\"\xc3\x28\"}", 400, "invalid UTF-8 at byte"},
		{"unknown field inside the payload", "\"payload\":{\"zz\":[\"\xff\"]}}", 400, "invalid UTF-8 at byte"},
		{"the log, which is never read", "\"log\":\"build \xed\xa0\x80 done\"}", 400, "invalid UTF-8 at byte"},
		{"a member name", "\"\xfe\":1}", 400, "invalid UTF-8 at byte"},
		{"a kept field still names the field", "\"text\":\"caf\xe9\"}", 400, `field \"text\": invalid UTF-8`},
		{"valid UTF-8 everywhere", `"zz":"é 中 😀","log":"ok"}`, 202, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(t, corpusMaxBody)
			body := strings.Replace(head, "%s", string(rune('a'+i)), 1) + tt.body
			rec := serve(h, []byte(body), false)
			if rec.Code != tt.want || !strings.Contains(rec.Body.String(), tt.reason) {
				t.Errorf("status = %d %s, want %d mentioning %q", rec.Code, rec.Body, tt.want, tt.reason)
			}
		})
	}
}
