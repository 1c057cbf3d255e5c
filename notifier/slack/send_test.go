package slack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/notifier"
	"github.com/activitybridge/activitybridge/notifier/notifiertest"
	"github.com/activitybridge/activitybridge/notifier/slack"
)

var testMsg = notifier.Message{
	Status: notifier.StatusSuccess,
	Title:  "main deployed · My Shop",
	Text:   "Cloé pushed 1 commit @here <!channel>",
	Fields: []notifier.Field{{Name: "Commit", Value: "2bab04e Add cron", URL: "https://example.com/c/2bab04e"}},
	Footer: "production · environment.push",
}

// client is what the notifiers get: a short timeout so that a stalled fake becomes a timeout.
func client() *http.Client { return &http.Client{Timeout: 500 * time.Millisecond} }

type statusCase struct {
	name      string
	fail      *notifiertest.Failure
	edit      bool // edit an unknown message
	closed    bool // the server is gone: connection refused
	want      string
	wantAfter time.Duration
}

var statusCases = []statusCase{
	{name: "200", want: notifiertest.OutcomeOK},
	{name: "ok false channel_not_found", fail: &notifiertest.Failure{SlackError: "channel_not_found"}, want: notifiertest.OutcomePermanent},
	{name: "ok false invalid_auth", fail: &notifiertest.Failure{SlackError: "invalid_auth"}, want: notifiertest.OutcomePermanent},
	{name: "ok false not_in_channel", fail: &notifiertest.Failure{SlackError: "not_in_channel"}, want: notifiertest.OutcomePermanent},
	{name: "ok false token_revoked", fail: &notifiertest.Failure{SlackError: "token_revoked"}, want: notifiertest.OutcomePermanent},
	{name: "ok false invalid_blocks", fail: &notifiertest.Failure{SlackError: "invalid_blocks"}, want: notifiertest.OutcomePermanent},
	{name: "ok false ratelimited", fail: &notifiertest.Failure{SlackError: "ratelimited"}, want: notifiertest.OutcomeRetryAfter, wantAfter: slack.DefaultRetryAfter},
	{name: "ok false internal_error", fail: &notifiertest.Failure{SlackError: "internal_error"}, want: notifiertest.OutcomeRetryable},
	{name: "ok false without error", fail: &notifiertest.Failure{Body: `{"ok":false}`}, want: notifiertest.OutcomeRetryable},
	{name: "200 not json", fail: &notifiertest.Failure{Body: "<html>proxy</html>"}, want: notifiertest.OutcomeRetryable},
	{name: "message_not_found on edit", edit: true, want: notifiertest.OutcomeGone},
	{name: "401", fail: &notifiertest.Failure{Status: 401}, want: notifiertest.OutcomePermanent},
	{name: "404", fail: &notifiertest.Failure{Status: 404}, want: notifiertest.OutcomePermanent},
	{name: "429 retry-after", fail: &notifiertest.Failure{RetryAfter: 7 * time.Second}, want: notifiertest.OutcomeRetryAfter, wantAfter: 7 * time.Second},
	{name: "429 without retry-after", fail: &notifiertest.Failure{Status: 429}, want: notifiertest.OutcomeRetryAfter, wantAfter: slack.DefaultRetryAfter},
	{name: "500", fail: &notifiertest.Failure{Status: 500}, want: notifiertest.OutcomeRetryable},
	{name: "502", fail: &notifiertest.Failure{Status: 502}, want: notifiertest.OutcomeRetryable},
	{name: "503", fail: &notifiertest.Failure{Status: 503}, want: notifiertest.OutcomeRetryable},
	{name: "timeout", fail: &notifiertest.Failure{Delay: 5 * time.Second}, want: notifiertest.OutcomeRetryable},
	{name: "connection refused", closed: true, want: notifiertest.OutcomeRetryable},
}

func checkOutcome(t *testing.T, err error, tc statusCase, secrets ...string) {
	t.Helper()
	if got := notifiertest.Outcome(err); got != tc.want {
		t.Fatalf("outcome = %q (err %v), want %q", got, err, tc.want)
	}
	if tc.wantAfter != 0 {
		if got, _ := notifier.RetryAfterOf(err); got != tc.wantAfter {
			t.Errorf("retry after = %v, want %v", got, tc.wantAfter)
		}
	}
	if err == nil {
		return
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains the secret %q", err, s)
		}
	}
	if msg := err.Error(); msg != strings.ToLower(msg[:1])+msg[1:] || !strings.HasPrefix(msg, "slack ") && !strings.HasPrefix(msg, "rate limited") {
		t.Errorf("error %q should start lowercase and name the service", msg)
	}
}

func TestBotStatusOutcomes(t *testing.T) {
	for _, tc := range statusCases {
		t.Run(tc.name, func(t *testing.T) {
			fake := notifiertest.NewSlack(t)
			bot, err := slack.NewBot(fake.Token(), fake.APIURL(), client())
			if err != nil {
				t.Fatal(err)
			}
			n := bot.Channel("#deploys")
			var prev notifier.Ref
			if tc.edit {
				prev = notifier.Ref{Channel: fake.ChannelID("#deploys"), ID: "1600000000.000001"}
			}
			if tc.fail != nil {
				fake.FailNext(1, *tc.fail)
			}
			if tc.closed {
				fake.Close()
			}
			ref, err := n.Send(context.Background(), testMsg, prev)
			checkOutcome(t, err, tc, fake.Token())
			if err == nil {
				if ref.Channel != fake.ChannelID("#deploys") || ref.ID == "" {
					t.Errorf("ref = %+v, want the channel ID %s and a ts", ref, fake.ChannelID("#deploys"))
				}
				if got := len(fake.Messages("#deploys")); got != 1 {
					t.Errorf("messages = %d, want 1", got)
				}
			}
			if err != nil && !strings.Contains(err.Error(), "#deploys") {
				t.Errorf("error %q does not name the channel", err)
			}
		})
	}
}

func TestWebhookStatusOutcomes(t *testing.T) {
	for _, tc := range statusCases {
		if tc.edit {
			continue // incoming webhooks cannot edit
		}
		if tc.fail != nil && tc.fail.SlackError != "" {
			// Incoming webhooks answer errors with an HTTP status and a plain-text reason.
			tc.fail = &notifiertest.Failure{SlackError: tc.fail.SlackError, Status: webhookStatus[tc.fail.SlackError]}
			tc.want, tc.wantAfter = webhookWant[tc.fail.SlackError], 0
			if tc.want == notifiertest.OutcomeRetryAfter {
				tc.wantAfter = slack.DefaultRetryAfter
			}
		}
		answered := tc.fail != nil && tc.fail.Status == 0 && tc.fail.Body != ""
		if answered {
			// Any 200 is a success for an incoming webhook: Slack answers "ok" and the body is not read.
			tc.want = notifiertest.OutcomeOK
		}
		t.Run(tc.name, func(t *testing.T) {
			fake := notifiertest.NewSlack(t)
			hookURL := fake.WebhookURL("previews")
			n, err := slack.NewWebhook("previews", hookURL, client())
			if err != nil {
				t.Fatal(err)
			}
			if tc.fail != nil {
				fake.FailNext(1, *tc.fail)
			}
			if tc.closed {
				fake.Close()
			}
			ref, err := n.Send(context.Background(), testMsg, notifier.Ref{})
			secret := hookURL[strings.LastIndex(hookURL, "/")+1:]
			checkOutcome(t, err, tc, hookURL, secret, strings.TrimPrefix(hookURL, "http://"))
			if !ref.IsZero() {
				t.Errorf("ref = %+v, want the zero Ref (a webhook cannot edit)", ref)
			}
			if err == nil && !answered {
				if got := len(fake.Messages("previews")); got != 1 {
					t.Errorf("messages = %d, want 1", got)
				}
			}
			if err != nil && !strings.Contains(err.Error(), "previews") {
				t.Errorf("error %q does not name the webhook", err)
			}
		})
	}
}

var webhookStatus = map[string]int{"channel_not_found": 404, "not_in_channel": 404, "invalid_auth": 403, "token_revoked": 403,
	"invalid_blocks": 400, "ratelimited": 429, "internal_error": 500}
var webhookWant = map[string]string{
	"channel_not_found": notifiertest.OutcomePermanent, "invalid_auth": notifiertest.OutcomePermanent,
	"not_in_channel": notifiertest.OutcomePermanent, "token_revoked": notifiertest.OutcomePermanent,
	"invalid_blocks": notifiertest.OutcomePermanent, "ratelimited": notifiertest.OutcomeRetryAfter,
	"internal_error": notifiertest.OutcomeRetryable,
}

func TestBotPostThenEdit(t *testing.T) {
	fake := notifiertest.NewSlack(t)
	bot, err := slack.NewBot(fake.Token(), strings.TrimSuffix(fake.APIURL(), "/"), client())
	if err != nil {
		t.Fatal(err)
	}
	n := bot.Channel("#deploys")
	running := testMsg
	running.Status, running.Title = notifier.StatusRunning, "main deploying…"
	ref, err := n.Send(context.Background(), running, notifier.Ref{})
	if err != nil {
		t.Fatal(err)
	}
	ref2, err := n.Send(context.Background(), testMsg, ref)
	if err != nil {
		t.Fatal(err)
	}
	if ref2 != ref {
		t.Errorf("edit ref = %+v, want %+v", ref2, ref)
	}
	msgs := fake.Messages("#deploys")
	if len(msgs) != 1 {
		t.Fatalf("messages = %d, want 1", len(msgs))
	}
	m := msgs[0]
	if m.Edits != 1 {
		t.Errorf("edits = %d, want 1", m.Edits)
	}
	if !strings.HasPrefix(m.Text, "✅ main deployed") {
		t.Errorf("text = %q, want the edited (success) text", m.Text)
	}
	if m.Parse != "none" {
		t.Errorf("parse on update = %q, want none", m.Parse)
	}
	var blocks []map[string]any
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil || len(blocks) == 0 {
		t.Fatalf("blocks %s: %v", m.Blocks, err)
	}
	if got := blocks[0]["text"].(map[string]any)["text"]; got != "✅ main deployed · My Shop" {
		t.Errorf("header = %q, want the edited title", got)
	}
	if strings.Contains(string(m.Blocks), "<!channel>") || strings.Contains(m.Text, "<!channel>") {
		t.Errorf("a live <!channel> reached Slack: %s", m.Blocks)
	}
}

func TestBotPostDisablesUnfurl(t *testing.T) {
	fake := notifiertest.NewSlack(t)
	bot, _ := slack.NewBot(fake.Token(), fake.APIURL(), client())
	if _, err := bot.Channel("C0123ABCD").Send(context.Background(), testMsg, notifier.Ref{}); err != nil {
		t.Fatal(err)
	}
	if got := fake.Messages("C0123ABCD")[0].UnfurlLinks; got != "false" {
		t.Errorf("unfurl_links = %q, want false", got)
	}
}

func TestBotWrongToken(t *testing.T) {
	fake := notifiertest.NewSlack(t)
	token := "xoxb-0000-wrong-token-value"
	bot, _ := slack.NewBot(token, fake.APIURL(), client())
	_, err := bot.Channel("#deploys").Send(context.Background(), testMsg, notifier.Ref{})
	if got := notifiertest.Outcome(err); got != notifiertest.OutcomePermanent {
		t.Fatalf("outcome = %q (%v), want permanent", got, err)
	}
	if !strings.Contains(err.Error(), "invalid_auth") || strings.Contains(err.Error(), token) {
		t.Errorf("error = %q, want invalid_auth without the token", err)
	}
}

func TestNewBotValidates(t *testing.T) {
	tests := []struct {
		name, token, api string
		wantErr          bool
	}{
		{"bot token", "xoxb-123-456-abc", "", false},
		{"user token", "xoxp-123-456-abc", "https://slack-gov.com/api", false},
		{"app token", "xapp-1-abc-def", "", true},
		{"empty", "", "", true},
		{"space", "xoxb-123 456-abc", "", true},
		{"relative api url", "xoxb-123-456-abc", "slack.com/api", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := slack.NewBot(tt.token, tt.api, nil)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

func TestNewWebhookValidates(t *testing.T) {
	tests := []struct {
		name, url string
		wantErr   bool
	}{
		{"services", "https://hooks.slack.com/services/T1/B1/secretsecret", false},
		{"workflow", "https://hooks.slack.com/triggers/T1/1/secretsecret", true},
		{"not a url", "hooks.slack.com/services/T1/B1/secretsecret", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := slack.NewWebhook("h", tt.url, nil)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "secretsecret") {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

func TestPace(t *testing.T) {
	fake := notifiertest.NewSlack(t)
	bot, _ := slack.NewBot(fake.Token(), fake.APIURL(), nil)
	hook, _ := slack.NewWebhook("h", fake.WebhookURL("h"), nil)
	for name, n := range map[string]notifier.Notifier{"bot": bot.Channel("#x"), "webhook": hook} {
		p, ok := n.(notifier.Paced)
		if !ok {
			t.Fatalf("%s: not Paced", name)
		}
		if want := (notifier.Pace{Every: 1100 * time.Millisecond, Burst: 3}); p.Pace() != want {
			t.Errorf("%s pace = %+v, want %+v", name, p.Pace(), want)
		}
	}
}

func TestFakeEnforcesRate(t *testing.T) {
	fake := notifiertest.NewSlack(t)
	fake.EnforceRate(time.Hour, 2)
	bot, _ := slack.NewBot(fake.Token(), fake.APIURL(), client())
	n := bot.Channel("#deploys")
	var outcomes []string
	for range 3 {
		_, err := n.Send(context.Background(), testMsg, notifier.Ref{})
		outcomes = append(outcomes, notifiertest.Outcome(err))
	}
	want := []string{"ok", "ok", "retry-after"}
	if strings.Join(outcomes, ",") != strings.Join(want, ",") {
		t.Errorf("outcomes = %v, want %v", outcomes, want)
	}
}
