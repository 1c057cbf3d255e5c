package discord_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/activitybridge/activitybridge/notifier"
	"github.com/activitybridge/activitybridge/notifier/discord"
	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

var testMsg = notifier.Message{
	Status: notifier.StatusSuccess,
	Title:  "main deployed · My Shop",
	Text:   "Cloé pushed 1 commit @everyone <@&123>",
	Fields: []notifier.Field{{Name: "Commit", Value: "2bab04e Add cron", URL: "https://example.com/c/2bab04e"}},
	Links:  []notifier.Link{{Label: "View activity", URL: "https://console.example/a/1"}},
	Footer: "production · environment.push",
}

func client() *http.Client { return &http.Client{Timeout: 500 * time.Millisecond} }

type statusCase struct {
	name      string
	fail      *notifiertest.Failure
	edit      bool // edit an unknown message
	closed    bool
	want      string
	wantAfter time.Duration
}

var statusCases = []statusCase{
	{name: "200", want: notifiertest.OutcomeOK},
	{name: "10015 unknown webhook", fail: &notifiertest.Failure{Status: 404, Code: 10015, Message: "Unknown Webhook"}, want: notifiertest.OutcomePermanent},
	{name: "50027 invalid webhook token", fail: &notifiertest.Failure{Status: 401, Code: 50027, Message: "Invalid Webhook Token"}, want: notifiertest.OutcomePermanent},
	{name: "50001 missing access", fail: &notifiertest.Failure{Status: 403, Code: 50001, Message: "Missing Access"}, want: notifiertest.OutcomePermanent},
	{name: "10003 unknown channel", fail: &notifiertest.Failure{Status: 404, Code: 10003, Message: "Unknown Channel"}, want: notifiertest.OutcomePermanent},
	{name: "50013 missing permissions", fail: &notifiertest.Failure{Status: 403, Code: 50013}, want: notifiertest.OutcomePermanent},
	{name: "50035 invalid form body", fail: &notifiertest.Failure{Code: 50035, Message: "Invalid Form Body"}, want: notifiertest.OutcomePermanent},
	{name: "20028 write rate limit", fail: &notifiertest.Failure{Status: 400, Code: 20028}, want: notifiertest.OutcomeRetryAfter, wantAfter: discord.DefaultRetryAfter},
	{name: "10008 on edit", edit: true, want: notifiertest.OutcomeGone},
	{name: "401", fail: &notifiertest.Failure{Status: 401}, want: notifiertest.OutcomePermanent},
	{name: "404", fail: &notifiertest.Failure{Status: 404}, want: notifiertest.OutcomePermanent},
	{name: "429 retry_after", fail: &notifiertest.Failure{RetryAfter: 1500 * time.Millisecond}, want: notifiertest.OutcomeRetryAfter, wantAfter: 1500 * time.Millisecond},
	{name: "429 html body", fail: &notifiertest.Failure{Status: 429, Body: "<html>banned</html>"}, want: notifiertest.OutcomeRetryable},
	{name: "200 not json", fail: &notifiertest.Failure{Body: "<html>proxy</html>"}, want: notifiertest.OutcomeRetryable},
	{name: "500", fail: &notifiertest.Failure{Status: 500}, want: notifiertest.OutcomeRetryable},
	{name: "502", fail: &notifiertest.Failure{Status: 502}, want: notifiertest.OutcomeRetryable},
	{name: "503", fail: &notifiertest.Failure{Status: 503}, want: notifiertest.OutcomeRetryable},
	{name: "timeout", fail: &notifiertest.Failure{Delay: 5 * time.Second}, want: notifiertest.OutcomeRetryable},
	{name: "connection refused", closed: true, want: notifiertest.OutcomeRetryable},
}

func checkOutcome(t *testing.T, err error, tc statusCase, name string, secrets ...string) {
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
	if !strings.Contains(err.Error(), name) {
		t.Errorf("error %q does not name %q", err, name)
	}
	// Whoever unwraps a discordgo error must not find the credential either.
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) && rl.RateLimit != nil {
		for _, s := range secrets {
			if strings.Contains(rl.URL, s) {
				t.Errorf("RateLimitError URL %q contains the secret", rl.URL)
			}
		}
	}
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Request != nil {
		for _, s := range secrets {
			if strings.Contains(re.Request.URL.String(), s) {
				t.Errorf("RESTError request URL %q contains the secret", re.Request.URL)
			}
		}
	}
}

func TestWebhookStatusOutcomes(t *testing.T) {
	for _, tc := range statusCases {
		t.Run(tc.name, func(t *testing.T) {
			fake := notifiertest.NewDiscord(t)
			hooks, err := discord.NewWebhooks(fake.APIURL(), client())
			if err != nil {
				t.Fatal(err)
			}
			hookURL := fake.WebhookURL("prod")
			n, err := hooks.Hook("prod", hookURL)
			if err != nil {
				t.Fatal(err)
			}
			var prev notifier.Ref
			if tc.edit {
				prev = notifier.Ref{ID: "1100000000000000001"}
			}
			if tc.fail != nil {
				fake.FailNext(1, *tc.fail)
			}
			if tc.closed {
				fake.Close()
			}
			ref, err := n.Send(context.Background(), testMsg, prev)
			token := hookURL[strings.LastIndex(hookURL, "/")+1:]
			checkOutcome(t, err, tc, "discord webhook prod", token, hookURL)
			if err == nil {
				msgs := fake.Messages("prod")
				if len(msgs) != 1 || ref.ID != msgs[0].ID || ref.Channel != msgs[0].ChannelID {
					t.Errorf("ref = %+v, messages = %+v; want one message with that ID", ref, msgs)
				}
			}
		})
	}
}

func TestBotStatusOutcomes(t *testing.T) {
	const channel = "123456789012345678"
	for _, tc := range statusCases {
		if tc.fail != nil && (tc.fail.Code == 10015 || tc.fail.Code == 50027) {
			tc.fail = &notifiertest.Failure{Status: 404, Code: 10003, Message: "Unknown Channel"}
		}
		t.Run(tc.name, func(t *testing.T) {
			fake := notifiertest.NewDiscord(t)
			bot, err := discord.NewBot(fake.BotToken(), fake.APIURL(), client())
			if err != nil {
				t.Fatal(err)
			}
			var prev notifier.Ref
			if tc.edit {
				prev = notifier.Ref{Channel: channel, ID: "1100000000000000001"}
			}
			if tc.fail != nil {
				fake.FailNext(1, *tc.fail)
			}
			if tc.closed {
				fake.Close()
			}
			ref, err := bot.Channel(channel).Send(context.Background(), testMsg, prev)
			checkOutcome(t, err, tc, "discord channel "+channel, fake.BotToken())
			if err == nil {
				msgs := fake.Messages(channel)
				if len(msgs) != 1 || ref != (notifier.Ref{Channel: channel, ID: msgs[0].ID}) {
					t.Errorf("ref = %+v, messages = %+v; want one message with that ID", ref, msgs)
				}
			}
		})
	}
}

func TestBotWrongToken(t *testing.T) {
	fake := notifiertest.NewDiscord(t)
	token := "wrong.token.value-abcdefghijklmnop"
	bot, err := discord.NewBot(token, fake.APIURL(), client())
	if err != nil {
		t.Fatal(err)
	}
	_, err = bot.Channel("123456789012345678").Send(context.Background(), testMsg, notifier.Ref{})
	if got := notifiertest.Outcome(err); got != notifiertest.OutcomePermanent {
		t.Fatalf("outcome = %q (%v), want permanent", got, err)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error %q contains the token", err)
	}
}

// mentions decodes allowed_mentions as the fake received it.
func mentions(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v struct {
		Parse *[]string `json:"parse"`
	}
	if err := json.Unmarshal(raw, &v); err != nil || v.Parse == nil {
		return "missing: " + string(raw)
	}
	return strings.Join(*v.Parse, ",")
}

func title(t *testing.T, m notifiertest.DiscordMessage) string {
	t.Helper()
	if len(m.Embeds) != 1 {
		t.Fatalf("embeds = %d, want 1", len(m.Embeds))
	}
	var e discordgo.MessageEmbed
	if err := json.Unmarshal(m.Embeds[0], &e); err != nil {
		t.Fatal(err)
	}
	return e.Title
}

func TestPostThenEdit(t *testing.T) {
	const channel = "123456789012345678"
	fake := notifiertest.NewDiscord(t)
	hooks, _ := discord.NewWebhooks(fake.APIURL(), client())
	bot, _ := discord.NewBot("Bot "+fake.BotToken(), fake.APIURL(), client())
	hookPlain, _ := hooks.Hook("prod", fake.WebhookURL("prod"))
	hookThread, _ := hooks.Hook("thread", fake.WebhookURL("thread")+"?thread_id=555")
	tests := []struct {
		name, target, wantChannel string
		n                         notifier.Notifier
	}{
		{"webhook", "prod", "", hookPlain},
		{"webhook in a thread", "thread", "555", hookThread},
		{"bot", channel, channel, bot.Channel(channel)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			running := testMsg
			running.Status, running.Title = notifier.StatusRunning, "main deploying…"
			ref, err := tt.n.Send(context.Background(), running, notifier.Ref{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantChannel != "" && ref.Channel != tt.wantChannel {
				t.Errorf("ref channel = %q, want %q", ref.Channel, tt.wantChannel)
			}
			posted := fake.Messages(tt.target)
			if len(posted) != 1 || mentions(t, posted[0].AllowedMentions) != "" {
				t.Fatalf("after post: %d messages, allowed_mentions %s; want 1 with parse []", len(posted), posted[0].AllowedMentions)
			}
			ref2, err := tt.n.Send(context.Background(), testMsg, ref)
			if err != nil {
				t.Fatal(err)
			}
			if ref2 != ref {
				t.Errorf("edit ref = %+v, want %+v", ref2, ref)
			}
			msgs := fake.Messages(tt.target)
			if len(msgs) != 1 {
				t.Fatalf("messages = %d, want 1", len(msgs))
			}
			if msgs[0].Edits != 1 {
				t.Errorf("edits = %d, want 1", msgs[0].Edits)
			}
			if got, want := title(t, msgs[0]), "✅ main deployed · My Shop"; got != want {
				t.Errorf("title after edit = %q, want %q", got, want)
			}
			if got := mentions(t, msgs[0].AllowedMentions); got != "" {
				t.Errorf("allowed_mentions parse on edit = %q, want []", got)
			}
		})
	}
}

func TestHookURLs(t *testing.T) {
	const id, token = "112233445566778899", "AbC-dEf_123456789012345678901234567890"
	tests := []struct {
		name, url string
		wantErr   bool
	}{
		{"discord.com", "https://discord.com/api/webhooks/" + id + "/" + token, false},
		{"versioned", "https://discord.com/api/v10/webhooks/" + id + "/" + token, false},
		{"discordapp", "https://discordapp.com/api/webhooks/" + id + "/" + token + "/", false},
		{"canary thread", "https://canary.discord.com/api/webhooks/" + id + "/" + token + "?thread_id=42", false},
		{"bad thread", "https://discord.com/api/webhooks/" + id + "/" + token + "?thread_id=x" + token, true},
		{"no token", "https://discord.com/api/webhooks/" + id, true},
		{"id not numeric", "https://discord.com/api/webhooks/abc" + token + "/" + token, true},
		{"not a url", "discord.com/api/webhooks/" + id + "/" + token, true},
	}
	hooks, err := discord.NewWebhooks("", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := hooks.Hook("prod", tt.url)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), token) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

// TestHookGoesToAPIURL checks that a production-looking webhook URL is sent to the configured API
// base with its ID and token, whatever its host.
func TestHookGoesToAPIURL(t *testing.T) {
	fake := notifiertest.NewDiscord(t)
	local := fake.WebhookURL("prod")
	real := "https://discord.com/api/v10/webhooks/" + strings.SplitN(local, "/api/webhooks/", 2)[1]
	hooks, _ := discord.NewWebhooks(strings.TrimSuffix(fake.APIURL(), "/"), client())
	n, err := hooks.Hook("prod", real)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Send(context.Background(), testMsg, notifier.Ref{}); err != nil {
		t.Fatal(err)
	}
	reqs := fake.Requests()
	if len(reqs) != 1 || !strings.HasPrefix(reqs[0].Path, "/api/v9/webhooks/") || reqs[0].Kind != "webhook-post" {
		t.Errorf("requests = %+v, want one webhook-post to /api/v9/webhooks/...", reqs)
	}
}

func TestPace(t *testing.T) {
	hooks, _ := discord.NewWebhooks("", nil)
	h, _ := hooks.Hook("p", "https://discord.com/api/webhooks/1/abc")
	bot, _ := discord.NewBot("abc", "", nil)
	tests := []struct {
		name string
		n    notifier.Notifier
		want notifier.Pace
	}{
		{"webhook", h, notifier.Pace{Every: 2200 * time.Millisecond, Burst: 5}},
		{"bot", bot.Channel("1"), notifier.Pace{Every: 1100 * time.Millisecond, Burst: 5}},
	}
	for _, tt := range tests {
		p, ok := tt.n.(notifier.Paced)
		if !ok || p.Pace() != tt.want {
			t.Errorf("%s pace = %v (paced %v), want %+v", tt.name, p, ok, tt.want)
		}
	}
}

func TestFakeEnforcesRate(t *testing.T) {
	fake := notifiertest.NewDiscord(t)
	fake.EnforceRate(time.Hour, 2)
	hooks, _ := discord.NewWebhooks(fake.APIURL(), client())
	n, _ := hooks.Hook("prod", fake.WebhookURL("prod"))
	var got []string
	for range 3 {
		_, err := n.Send(context.Background(), testMsg, notifier.Ref{})
		got = append(got, notifiertest.Outcome(err))
	}
	if want := "ok,ok,retry-after"; strings.Join(got, ",") != want {
		t.Errorf("outcomes = %v, want %s", got, want)
	}
}
