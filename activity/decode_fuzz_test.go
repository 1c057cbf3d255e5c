package activity_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"testing"
	"unicode/utf8"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/fixture"
)

// FuzzDecode: any body either decodes to an activity with its three required fields, all valid UTF-8,
// whose helpers do not panic, or fails with a short *DecodeError matching ErrNotActivity. Never a panic.
func FuzzDecode(f *testing.F) {
	for _, name := range fixture.Names() {
		f.Add(fixture.Bytes(name))
	}
	for _, s := range []string{
		``, `   `, `null`, `[]`, `"x"`, `42`, `{`, `{}`, `{"id":"a"}`,
		`{"id":"a","type":"t","project":"p"}`,
		`{"id":"a","type":"t","project":"p"} x`,
		`{"id":"a","id":"b","type":"t","project":"p"}`,
		`{"id":"a","type":42,"project":"p"}`,
		`{"id":"a","type":"t","project":"p","environments":{}}`,
		`{"id":"a","type":"t","project":"p","payload":{"commits":[{"message":1}]}}`,
		`{"id":"a","type":"t","project":"p","created_at":"2022-12-14T15:41:05Z","completed_at":"x"}`,
		"{\"id\":\"a\xff\",\"type\":\"t\",\"project\":\"p\"}",
		`{"id":"a\u0000","type":"\ud800","project":"p"}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := activity.Decode(body)
		if err != nil {
			if a != nil {
				t.Errorf("Decode returned an activity and the error %v", err)
			}
			if !errors.Is(err, activity.ErrNotActivity) {
				t.Errorf("error %v does not match ErrNotActivity", err)
			}
			var de *activity.DecodeError
			if !errors.As(err, &de) {
				t.Errorf("error %T is not a *DecodeError", err)
			}
			if n := len(err.Error()); n > 512 {
				t.Errorf("error is %d bytes long; it must not echo the body", n)
			}
			return
		}
		if !json.Valid(body) {
			t.Errorf("Decode accepted a body that is not valid JSON: %q", body)
		}
		for name, v := range map[string]string{"id": a.ID, "type": a.Type, "project": a.Project} {
			if v == "" {
				t.Errorf("accepted with an empty %s", name)
			}
		}
		for _, s := range []string{a.ID, a.Type, a.Project, a.Text, a.EnvironmentName(), a.Actor(), a.ProjectTitle()} {
			if !utf8.ValidString(s) {
				t.Errorf("decoded string %q is not valid UTF-8", s)
			}
		}
		// The helpers the templates use must cope with whatever decoded.
		a.EnvironmentType()
		a.HeadCommit()
		a.CommitList()
		a.Duration()
		a.Status()
		a.FailedCommands()
		a.Time()
		for _, u := range a.LiveURLs() {
			if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") {
				t.Errorf("live URL %q is not an http(s) URL", u)
			}
		}
		if u := a.ConsoleURL("https://console.platform.sh"); u != "" {
			if _, err := url.Parse(u); err != nil {
				t.Errorf("console URL %q does not parse: %v", u, err)
			}
		}
	})
}
