package console_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/notifier"
	"github.com/activitybridge/activitybridge/notifier/console"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		msg  notifier.Message
		want string
	}{
		{
			name: "full",
			msg: notifier.Message{
				Status: notifier.StatusSuccess,
				Title:  "main deployed · My Shop (abcdefgh1234567)",
				Text:   "Cloé Weber pushed 1 commit to main in 51 s",
				Fields: []notifier.Field{
					{Name: "Commit", Value: "2bab04e Add cron", URL: "https://example.com/c/2bab04e"},
					{Name: "Live", Value: "https://main.example.site/\n(+3 more)", Keep: true},
				},
				List:   &notifier.List{Name: "Commits", Items: []string{"2bab04e Add cron — Cloé Weber"}, More: 37},
				Links:  []notifier.Link{{Label: "View activity", URL: "https://console.platform.sh/a/1"}},
				Footer: "production · environment.push",
				Time:   time.Date(2022, 12, 14, 15, 41, 0, 0, time.UTC),
			},
			want: `[SUCCESS] main deployed · My Shop (abcdefgh1234567)
  Cloé Weber pushed 1 commit to main in 51 s
  Commit: 2bab04e Add cron <https://example.com/c/2bab04e>
  Live:   https://main.example.site/
          (+3 more)
  Commits:
    - 2bab04e Add cron — Cloé Weber
    … and 37 more
  → View activity: https://console.platform.sh/a/1
  production · environment.push

`,
		},
		{
			name: "minimal",
			msg:  notifier.Message{Title: "hello"},
			want: "[NOTICE] hello\n\n",
		},
		{
			name: "control characters dropped",
			msg:  notifier.Message{Status: notifier.StatusFailure, Title: "x\x1b[31mred\x07", Text: "a\r\nb"},
			want: "[FAILURE] x[31mred\n  a\n  b\n\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := console.Format(tt.msg); got != tt.want {
				t.Errorf("Format:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestSendConcurrent(t *testing.T) {
	// A plain buffer: under -race, unsynchronised writes would be reported.
	var buf bytes.Buffer
	n := console.New(&buf)
	msg := notifier.Message{Status: notifier.StatusRunning, Title: "t", Text: strings.Repeat("line\n", 50)}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			ref, err := n.Send(context.Background(), msg, notifier.Ref{ID: "ignored"})
			if err != nil || !ref.IsZero() {
				t.Errorf("Send = %+v, %v; want the zero Ref and no error", ref, err)
			}
		})
	}
	wg.Wait()
	block := console.Format(msg)
	if got, want := buf.String(), strings.Repeat(block, 20); got != want {
		t.Errorf("output is not 20 whole blocks (%d bytes, want %d)", len(got), len(want))
	}
}

func TestFormatHealthStatuses(t *testing.T) {
	for _, s := range []notifier.Status{notifier.StatusWarning, notifier.StatusCritical} {
		if got := console.Format(notifier.Message{Status: s, Title: "low disk space on mysql"}); !strings.HasPrefix(got, "["+strings.ToUpper(string(s))+"] low disk space") {
			t.Errorf("Format(%s) = %q", s, got)
		}
	}
}
