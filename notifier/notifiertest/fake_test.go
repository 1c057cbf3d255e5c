package notifiertest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

func post(t *testing.T, method, u, ctype, body string, header ...string) (int, string, http.Header) {
	t.Helper()
	status, got, h, err := do(method, u, ctype, body, header...)
	if err != nil {
		t.Fatal(err)
	}
	return status, got, h
}

func do(method, u, ctype, body string, header ...string) (int, string, http.Header, error) {
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Content-Type", ctype)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header, nil
}

func slackForm(token, channel, text, blocks string, extra ...string) string {
	v := url.Values{"channel": {channel}, "text": {text}}
	if token != "" {
		v.Set("token", token)
	}
	if blocks != "" {
		v.Set("blocks", blocks)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v.Encode()
}

func TestSlackAPI(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	header := `[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 151) + `"}}]`
	mrkdwnHeader := `[{"type":"header","text":{"type":"mrkdwn","text":"h"}}]`
	long := `[{"type":"section","text":{"type":"mrkdwn","text":"` + strings.Repeat("s", 3001) + `"}}]`
	many := "[" + strings.TrimSuffix(strings.Repeat(`{"type":"divider"},`, 51), ",") + "]"
	tests := []struct {
		name, path, body string
		header           []string
		want             string
	}{
		{"post", "chat.postMessage", slackForm("TOKEN", "#deploys", "hi", ""), nil, `"ok":true`},
		{"bearer token", "chat.postMessage", slackForm("", "#deploys", "hi", ""), []string{"Authorization", "Bearer TOKEN"}, `"ok":true`},
		{"no token", "chat.postMessage", slackForm("", "#deploys", "hi", ""), nil, `"error":"not_authed"`},
		{"wrong token", "chat.postMessage", slackForm("xoxb-nope", "#deploys", "hi", ""), nil, `"error":"invalid_auth"`},
		{"bad channel", "chat.postMessage", slackForm("TOKEN", "deploys", "hi", ""), nil, `"error":"channel_not_found"`},
		{"no text", "chat.postMessage", slackForm("TOKEN", "#deploys", "", ""), nil, `"error":"no_text"`},
		{"header too long", "chat.postMessage", slackForm("TOKEN", "#deploys", "hi", header), nil, `"error":"invalid_blocks"`},
		{"header mrkdwn", "chat.postMessage", slackForm("TOKEN", "#deploys", "hi", mrkdwnHeader), nil, `"error":"invalid_blocks"`},
		{"section too long", "chat.postMessage", slackForm("TOKEN", "#deploys", "hi", long), nil, `"error":"invalid_blocks"`},
		{"51 blocks", "chat.postMessage", slackForm("TOKEN", "#deploys", "hi", many), nil, `"error":"invalid_blocks"`},
		{"post text 40001", "chat.postMessage", slackForm("TOKEN", "#deploys", strings.Repeat("x", 40001), ""), nil, `"error":"msg_too_long"`},
		{"update unknown ts", "chat.update", slackForm("TOKEN", "C0123ABCD", "hi", "", "ts", "1.2"), nil, `"error":"message_not_found"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := notifiertest.NewSlack(t)
			body := strings.ReplaceAll(tt.body, "TOKEN", url.QueryEscape(fake.Token()))
			h := tt.header
			if len(h) == 2 {
				h = []string{h[0], strings.ReplaceAll(h[1], "TOKEN", fake.Token())}
			}
			status, got, _ := post(t, http.MethodPost, fake.APIURL()+tt.path, form, body, h...)
			if status != http.StatusOK || !strings.Contains(got, tt.want) {
				t.Errorf("answer %d %s, want 200 with %s", status, got, tt.want)
			}
		})
	}
}

func TestSlackUpdateTextLimit(t *testing.T) {
	fake := notifiertest.NewSlack(t)
	_, got, _ := post(t, http.MethodPost, fake.APIURL()+"chat.postMessage", "application/x-www-form-urlencoded", slackForm(fake.Token(), "#d", "hi", ""))
	var ans struct{ Channel, TS string }
	_ = json.Unmarshal([]byte(got), &ans)
	if ans.Channel != fake.ChannelID("#d") || ans.TS == "" {
		t.Fatalf("post answer %s, want the channel ID %s and a ts", got, fake.ChannelID("#d"))
	}
	tests := []struct{ text, want string }{
		{strings.Repeat("x", 4001), `"error":"msg_too_long"`},
		{strings.Repeat("x", 4000), `"ok":true`},
	}
	for _, tt := range tests {
		_, got, _ := post(t, http.MethodPost, fake.APIURL()+"chat.update", "application/x-www-form-urlencoded", slackForm(fake.Token(), ans.Channel, tt.text, "", "ts", ans.TS))
		if !strings.Contains(got, tt.want) {
			t.Errorf("update with %d runes: %s, want %s", len(tt.text), got, tt.want)
		}
	}
	if m := fake.Messages("#d"); len(m) != 1 || m[0].Edits != 1 || len(m[0].Text) != 4000 {
		t.Errorf("messages = %+v, want one with one edit", m)
	}
}

func TestSlackWebhook(t *testing.T) {
	tests := []struct {
		name, body string
		wantStatus int
		wantBody   string
	}{
		{"ok", `{"text":"hi"}`, 200, "ok"},
		{"no text", `{"text":""}`, 400, "no_text"},
		{"not json", `{`, 400, "invalid_payload"},
		{"bad blocks", `{"text":"x","blocks":[{"type":"header","text":{"type":"mrkdwn","text":"h"}}]}`, 400, "invalid_blocks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := notifiertest.NewSlack(t)
			status, got, _ := post(t, http.MethodPost, fake.WebhookURL("h"), "application/json", tt.body)
			if status != tt.wantStatus || got != tt.wantBody {
				t.Errorf("answer %d %q, want %d %q", status, got, tt.wantStatus, tt.wantBody)
			}
		})
	}
	fake := notifiertest.NewSlack(t)
	if status, got, _ := post(t, http.MethodPost, fake.WebhookURL("h")+"x", "application/json", `{"text":"hi"}`); status != 404 || got != "no_service" {
		t.Errorf("unknown hook: %d %q, want 404 no_service", status, got)
	}
}

func TestSlackDownAndRequests(t *testing.T) {
	fake := notifiertest.NewSlack(t)
	fake.SetDown(true)
	status, _, _ := post(t, http.MethodPost, fake.WebhookURL("h"), "application/json", `{"text":"hi"}`)
	fake.SetDown(false)
	fake.FailNext(1, notifiertest.Failure{RetryAfter: 1500 * time.Millisecond})
	status2, _, hdr := post(t, http.MethodPost, fake.WebhookURL("h"), "application/json", `{"text":"hi"}`)
	status3, _, _ := post(t, http.MethodPost, fake.WebhookURL("h"), "application/json", `{"text":"hi"}`)
	if status != 503 || status2 != 429 || hdr.Get("Retry-After") != "2" || status3 != 200 {
		t.Errorf("statuses %d, %d (Retry-After %q), %d; want 503, 429 (2), 200", status, status2, hdr.Get("Retry-After"), status3)
	}
	var got []string
	for _, r := range fake.Requests() {
		got = append(got, fmt.Sprintf("%s %s %d", r.Method, r.Kind, r.Status))
	}
	if want := "POST webhook 503,POST webhook 429,POST webhook 200"; strings.Join(got, ",") != want {
		t.Errorf("requests = %v, want %s", got, want)
	}
}

func discordBody(content string, embed map[string]any) string {
	v := map[string]any{"content": content, "allowed_mentions": map[string]any{"parse": []string{}}}
	if embed != nil {
		v["embeds"] = []any{embed}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDiscordAPI(t *testing.T) {
	fields := make([]any, 26)
	for i := range fields {
		fields[i] = map[string]string{"name": "n", "value": "v"}
	}
	tests := []struct {
		name     string
		body     string
		bot      bool
		wantCode int
	}{
		{"ok", discordBody("hi", nil), false, 0},
		{"bot ok", discordBody("", map[string]any{"title": "t"}), true, 0},
		{"empty", discordBody("", nil), false, 50006},
		{"content 2001", discordBody(strings.Repeat("x", 2001), nil), false, 50035},
		{"title 257", discordBody("", map[string]any{"title": strings.Repeat("x", 257)}), false, 50035},
		{"description 4097", discordBody("", map[string]any{"description": strings.Repeat("x", 4097)}), true, 50035},
		{"26 fields", discordBody("", map[string]any{"title": "t", "fields": fields}), false, 50035},
		{"field value 1025", discordBody("", map[string]any{"fields": []any{map[string]string{"name": "n", "value": strings.Repeat("x", 1025)}}}), false, 50035},
		{"empty field value", discordBody("", map[string]any{"fields": []any{map[string]string{"name": "n", "value": ""}}}), false, 50035},
		{"footer 2049", discordBody("", map[string]any{"footer": map[string]string{"text": strings.Repeat("x", 2049)}}), false, 50035},
		{"total 6001", discordBody("", map[string]any{"title": strings.Repeat("x", 200), "description": strings.Repeat("x", 4000), "footer": map[string]string{"text": strings.Repeat("x", 1801)}}), false, 50035},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := notifiertest.NewDiscord(t)
			u := strings.Replace(fake.WebhookURL("prod"), "/api/", "/api/v9/", 1) + "?wait=true"
			var h []string
			if tt.bot {
				u, h = fake.APIURL()+"v10/channels/123/messages", []string{"Authorization", "Bot " + fake.BotToken()}
			}
			status, got, hdr := post(t, http.MethodPost, u, "application/json", tt.body, h...)
			var ans struct {
				ID   string `json:"id"`
				Code int    `json:"code"`
			}
			_ = json.Unmarshal([]byte(got), &ans)
			if tt.wantCode == 0 && (status != 200 || ans.ID == "" || hdr.Get("X-RateLimit-Reset-After") == "") {
				t.Errorf("answer %d %s, want 200 with a message ID and rate-limit headers", status, got)
			}
			if tt.wantCode != 0 && (status != 400 || ans.Code != tt.wantCode) {
				t.Errorf("answer %d %s, want 400 code %d", status, got, tt.wantCode)
			}
		})
	}
}

func TestDiscordAuth(t *testing.T) {
	fake := notifiertest.NewDiscord(t)
	hook := strings.Replace(fake.WebhookURL("prod"), "/api/", "/api/v9/", 1)
	base := hook[:strings.LastIndex(hook, "/")]
	tests := []struct {
		name, method, url string
		header            []string
		wantStatus        int
		wantCode          int
	}{
		{"unknown webhook", http.MethodPost, fake.APIURL() + "v9/webhooks/1/abc?wait=true", nil, 404, 10015},
		{"wrong webhook token", http.MethodPost, base + "/wrong?wait=true", nil, 401, 50027},
		{"unknown message", http.MethodPatch, hook + "/messages/1", nil, 404, 10008},
		{"bot without Bot prefix", http.MethodPost, fake.APIURL() + "v9/channels/1/messages", []string{"Authorization", fake.BotToken()}, 401, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got, _ := post(t, tt.method, tt.url, "application/json", discordBody("hi", nil), tt.header...)
			var ans struct{ Code int }
			_ = json.Unmarshal([]byte(got), &ans)
			if status != tt.wantStatus || ans.Code != tt.wantCode {
				t.Errorf("answer %d %s, want %d code %d", status, got, tt.wantStatus, tt.wantCode)
			}
		})
	}
}

// TestConcurrent posts from many goroutines at once; run with -race.
func TestConcurrent(t *testing.T) {
	slack := notifiertest.NewSlack(t)
	disc := notifiertest.NewDiscord(t)
	hook := disc.WebhookURL("prod") + "?wait=true"
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, _, _, err := do(http.MethodPost, slack.APIURL()+"chat.postMessage", "application/x-www-form-urlencoded", slackForm(slack.Token(), "#d", fmt.Sprint(i), "")); err != nil {
				t.Error(err)
			}
			if _, _, _, err := do(http.MethodPost, hook, "application/json", discordBody(fmt.Sprint(i), nil)); err != nil {
				t.Error(err)
			}
			_ = slack.Messages("#d")
			_ = disc.Requests()
		})
	}
	wg.Wait()
	if a, b := len(slack.Messages("#d")), len(disc.Messages("prod")); a != 20 || b != 20 {
		t.Errorf("messages %d (slack), %d (discord), want 20 each", a, b)
	}
}

func TestSlackMrkdwnTexts(t *testing.T) {
	blocks := `[{"type":"header","text":{"type":"plain_text","text":"<!channel> header"}},
		{"type":"section","text":{"type":"mrkdwn","text":"section"},"fields":[{"type":"mrkdwn","text":"field"}]},
		{"type":"context","elements":[{"type":"mrkdwn","text":"context"}]}]`
	got, err := notifiertest.SlackMrkdwnTexts(json.RawMessage(blocks))
	slices.Sort(got)
	if want := []string{"context", "field", "section"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("SlackMrkdwnTexts = %q, %v; want %q (plain_text left out)", got, err, want)
	}
	if _, err := notifiertest.SlackMrkdwnTexts(json.RawMessage(`[{`)); err == nil {
		t.Error("SlackMrkdwnTexts of broken JSON: no error")
	}
}
