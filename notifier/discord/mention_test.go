package discord_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/activitybridge/activitybridge/notifier"
	"github.com/activitybridge/activitybridge/notifier/discord"
	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

const (
	userID = "112233445566778899"
	roleID = "998877665544332211"
)

var wantPings = []string{"<@" + userID + ">", "<@&" + roleID + ">"}

func failedMsg() notifier.Message {
	return notifier.Message{
		Status:   notifier.StatusFailure,
		Title:    "main deploy failed · My Shop " + strings.Join(notifiertest.Hostile, " "),
		Text:     "Cloé pushed <@123456789012345678> @everyone",
		Footer:   "production · environment.push",
		Mentions: []string{userID, "&" + roleID},
	}
}

// spy records every request body and fails the first n replies (bodies with message_reference, or
// webhook posts after the first) before they reach Discord.
type spy struct {
	mu         sync.Mutex
	bodies     [][]byte
	failReply  int
	hookPosted bool
}

func (s *spy) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	s.mu.Lock()
	if len(body) > 0 {
		s.bodies = append(s.bodies, body)
	}
	isReply := bytes.Contains(body, []byte(`"message_reference"`)) ||
		(r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/webhooks/") && s.hookPosted)
	if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/webhooks/") {
		s.hookPosted = true
	}
	fail := isReply && s.failReply > 0
	if fail {
		s.failReply--
	}
	s.mu.Unlock()
	if fail {
		return nil, errors.New("connection reset by peer")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// checkAllowedMentions asserts that every request allowed exactly the configured users and roles (or
// nothing), never a parse type, never the replied user.
func (s *spy) checkAllowedMentions(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.bodies {
		var v struct {
			AllowedMentions *struct {
				Parse       []string `json:"parse"`
				Users       []string `json:"users"`
				Roles       []string `json:"roles"`
				RepliedUser bool     `json:"replied_user"`
			} `json:"allowed_mentions"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("request body is not JSON: %s", b)
		}
		am := v.AllowedMentions
		switch {
		case am == nil:
			t.Errorf("a request without allowed_mentions: %s", b)
		case am.Parse == nil || len(am.Parse) > 0 || am.RepliedUser:
			t.Errorf("allowed_mentions parses %v, replied_user %v; want [] and false: %s", am.Parse, am.RepliedUser, b)
		case len(am.Users) > 0 && !reflect.DeepEqual(am.Users, []string{userID}), len(am.Roles) > 0 && !reflect.DeepEqual(am.Roles, []string{roleID}):
			t.Errorf("allowed_mentions lists users %v and roles %v; want only %s and %s", am.Users, am.Roles, userID, roleID)
		}
	}
}

// A failure that edits an earlier (pending) message in a bot channel: one edit, which pings nobody, plus
// one reply (message_reference) to it carrying exactly the listed mentions. When the reply fails after
// the edit went through, Send fails, and the retry edits again and replies once.
func TestBotFailureEditRepliesWithMentions(t *testing.T) {
	fake := notifiertest.NewDiscord(t)
	sp := &spy{failReply: 1}
	bot, err := discord.NewBot(fake.BotToken(), fake.APIURL(), &http.Client{Transport: sp})
	if err != nil {
		t.Fatal(err)
	}
	const chID = "123456789012345678"
	ch := bot.Channel(chID)
	ctx := context.Background()
	pending := failedMsg()
	pending.Status, pending.Mentions = notifier.StatusPending, nil
	first, err := ch.Send(ctx, pending, notifier.Ref{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Send(ctx, failedMsg(), first); err == nil {
		t.Fatal("Send with a failing reply: no error; the worker would not retry the reply")
	}
	ref, err := ch.Send(ctx, failedMsg(), first)
	if err != nil {
		t.Fatal(err)
	}
	if ref != first {
		t.Errorf("Send returned %+v, want the original message %+v", ref, first)
	}
	msgs := fake.Messages(chID)
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want the original and one reply", len(msgs))
	}
	orig, reply := msgs[0], msgs[1]
	if orig.Edits != 2 {
		t.Errorf("original edited %d times, want 2 (once per Send)", orig.Edits)
	}
	if got := notifiertest.DiscordPings(orig); len(got) != 0 {
		t.Errorf("the edited message pings %v; the reply should", got)
	}
	if reply.ReplyTo != first.ID {
		t.Errorf("reply refers to %q, want the original %q", reply.ReplyTo, first.ID)
	}
	if got := notifiertest.DiscordPings(reply); !reflect.DeepEqual(got, wantPings) {
		t.Errorf("reply pings %v, want exactly %v\ncontent: %s", got, wantPings, reply.Content)
	}
	sp.checkAllowedMentions(t)
}

// A Discord webhook cannot reply: after the edit it posts a new message with the mentions and a link
// to the original.
func TestWebhookFailureEditPostsLinkedMention(t *testing.T) {
	fake := notifiertest.NewDiscord(t)
	sp := &spy{}
	hooks, err := discord.NewWebhooks(fake.APIURL(), &http.Client{Transport: sp})
	if err != nil {
		t.Fatal(err)
	}
	hook, err := hooks.Hook("prod", fake.WebhookURL("prod"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pending := failedMsg()
	pending.Status, pending.Mentions = notifier.StatusPending, nil
	first, err := hook.Send(ctx, pending, notifier.Ref{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := hook.Send(ctx, failedMsg(), first)
	if err != nil {
		t.Fatal(err)
	}
	if ref != first {
		t.Errorf("Send returned %+v, want the original message %+v", ref, first)
	}
	msgs := fake.Messages("prod")
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want the original and one notice", len(msgs))
	}
	if msgs[0].Edits != 1 || len(notifiertest.DiscordPings(msgs[0])) != 0 {
		t.Errorf("original: %d edits, pings %v; want 1 edit, no ping", msgs[0].Edits, notifiertest.DiscordPings(msgs[0]))
	}
	if got := notifiertest.DiscordPings(msgs[1]); !reflect.DeepEqual(got, wantPings) {
		t.Errorf("notice pings %v, want exactly %v", got, wantPings)
	}
	if !strings.Contains(msgs[1].Content, "/"+first.Channel+"/"+first.ID+")") || !strings.Contains(msgs[1].Content, "https://discord.com/channels/8") {
		t.Errorf("notice %q does not link to the original message %+v", msgs[1].Content, first)
	}
	sp.checkAllowedMentions(t)
}

// A failure posted as a new message carries the mentions itself, in the content, and allows exactly them.
func TestPostCarriesMentions(t *testing.T) {
	fake := notifiertest.NewDiscord(t)
	sp := &spy{}
	hooks, err := discord.NewWebhooks(fake.APIURL(), &http.Client{Transport: sp})
	if err != nil {
		t.Fatal(err)
	}
	hook, err := hooks.Hook("prod", fake.WebhookURL("prod"))
	if err != nil {
		t.Fatal(err)
	}
	bot, err := discord.NewBot(fake.BotToken(), fake.APIURL(), &http.Client{Transport: sp})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []notifier.Notifier{hook, bot.Channel("123456789012345678")} {
		if _, err := n.Send(context.Background(), failedMsg(), notifier.Ref{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, target := range []string{"prod", "123456789012345678"} {
		msgs := fake.Messages(target)
		if len(msgs) != 1 {
			t.Fatalf("%s: %d messages, want 1", target, len(msgs))
		}
		if got := notifiertest.DiscordPings(msgs[0]); !reflect.DeepEqual(got, wantPings) {
			t.Errorf("%s: pings %v, want %v", target, got, wantPings)
		}
	}
	sp.checkAllowedMentions(t)
}

// Only well-formed IDs become mentions; a success or a message without mentions allows nothing.
func TestMentionsOnlyFromTokens(t *testing.T) {
	msg := failedMsg()
	msg.Mentions = []string{userID, "@everyone", "<@1>", "&abc", "123", "&" + roleID}
	p := discord.Build(msg)
	if p.Content != "<@"+userID+"> <@&"+roleID+">" {
		t.Errorf("content %q", p.Content)
	}
	if !reflect.DeepEqual(p.AllowedMentions.Users, []string{userID}) || !reflect.DeepEqual(p.AllowedMentions.Roles, []string{roleID}) || len(p.AllowedMentions.Parse) != 0 {
		t.Errorf("allowed_mentions %+v", p.AllowedMentions)
	}
	plain := discord.Build(notifier.Message{Status: notifier.StatusSuccess, Title: "ok"})
	b, _ := json.Marshal(plain.AllowedMentions)
	if string(b) != `{"parse":[],"replied_user":false}` || plain.Content != "" {
		t.Errorf("a message without mentions: content %q, allowed_mentions %s", plain.Content, b)
	}
}

// The fake enforces Discord's rules on replies and allowed_mentions.
func TestFakeDiscordReplyLimits(t *testing.T) {
	fake := notifiertest.NewDiscord(t)
	const ch = "123456789012345678"
	post := func(body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, fake.APIURL()+"v10/channels/"+ch+"/messages", strings.NewReader(body))
		req.Header.Set("Authorization", "Bot "+fake.BotToken())
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := post(`{"content":"first"}`); code != 200 {
		t.Fatalf("plain post: %d", code)
	}
	id := fake.Messages(ch)[0].ID
	tests := []struct {
		name, body string
		want       int
	}{
		{"reply to an unknown message", `{"content":"x","message_reference":{"message_id":"1"}}`, 400},
		{"reply to an unknown message, fail_if_not_exists false", `{"content":"x","message_reference":{"message_id":"1","fail_if_not_exists":false}}`, 200},
		{"reference without a snowflake", `{"content":"x","message_reference":{"message_id":"abc"}}`, 400},
		{"parse users and a users list", `{"content":"x","allowed_mentions":{"parse":["users"],"users":["` + userID + `"]}}`, 400},
		{"unknown parse type", `{"content":"x","allowed_mentions":{"parse":["here"]}}`, 400},
		{"reply over the content limit", `{"content":"` + strings.Repeat("x", 2001) + `","message_reference":{"message_id":"` + id + `"}}`, 400},
		{"good reply", `{"content":"<@` + userID + `> x","allowed_mentions":{"parse":[],"users":["` + userID + `"]},"message_reference":{"message_id":"` + id + `"}}`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := post(tt.body); code != tt.want {
				t.Errorf("status %d, want %d: %s", code, tt.want, body)
			}
		})
	}
	msgs := fake.Messages(ch)
	last := msgs[len(msgs)-1]
	if last.ReplyTo != id || !slices.Equal(notifiertest.DiscordPings(last), []string{"<@" + userID + ">"}) {
		t.Errorf("good reply recorded as %+v", last)
	}
}

// Health statuses have their own colours: amber for a warning, dark red for a critical notice.
func TestHealthColours(t *testing.T) {
	for s, want := range map[notifier.Status]int{notifier.StatusWarning: discord.ColorWarning, notifier.StatusCritical: discord.ColorCritical} {
		if got := discord.Build(notifier.Message{Status: s, Title: "x"}).Embeds[0].Color; got != want {
			t.Errorf("%s: colour %#x, want %#x", s, got, want)
		}
		if s.Emoji() == "⚪" {
			t.Errorf("%s has no emoji", s)
		}
	}
}

// Mentions and linked list items stay within Discord's limits whatever the text around them, and only
// the mentions ping.
func TestMentionsWithinLimits(t *testing.T) {
	for _, h := range notifiertest.Hostile {
		msg := failedMsg()
		msg.Title = strings.Repeat(h+" ", 200)
		msg.Text = strings.Repeat(h, 3000)
		msg.List = &notifier.List{Name: h, More: 3}
		for i := range 40 {
			msg.List.Items = append(msg.List.Items, h+" "+strings.Repeat(h, 200))
			msg.List.URLs = append(msg.List.URLs, []string{"https://github.com/acme/shop/commit/2bab04e", "", "javascript:alert(1)", "https://x.example/" + h}[i%4])
		}
		for _, p := range []discord.Payload{discord.Build(msg), discord.BuildReply(msg, "https://discord.com/channels/1/2/3")} {
			body, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			if problem := notifiertest.DiscordBodyProblem(body); problem != "" {
				t.Fatalf("%q: Discord would refuse it: %s", h, problem)
			}
			m := notifiertest.DiscordMessage{Content: p.Content, AllowedMentions: mustJSON(t, p.AllowedMentions)}
			if got := notifiertest.DiscordPings(m); !reflect.DeepEqual(got, wantPings) {
				t.Errorf("%q: pings %v, want %v", h, got, wantPings)
			}
			if strings.Contains(string(body), "](javascript:") {
				t.Errorf("%q: a javascript: link", h)
			}
		}
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A bot without Read Message History cannot reply (Discord answers 160002, which no retry changes): the
// mentions go out in a plain message after the edit, instead of the notice becoming a dead letter.
func TestBotReplyWithoutHistoryPermissionStillPings(t *testing.T) {
	fake := notifiertest.NewDiscord(t)
	stop := fake.FailWhere(notifiertest.Failure{Code: 160002, Message: "Cannot reply without permission to read message history"}, "message_reference")
	defer stop()
	bot, err := discord.NewBot(fake.BotToken(), fake.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	const chID = "123456789012345678"
	ch := bot.Channel(chID)
	ctx := context.Background()
	pending := failedMsg()
	pending.Status, pending.Mentions = notifier.StatusPending, nil
	first, err := ch.Send(ctx, pending, notifier.Ref{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Send(ctx, failedMsg(), first); err != nil {
		t.Fatalf("Send of the failure: %v; want the mentions posted without message_reference", err)
	}
	msgs := fake.Messages(chID)
	if len(msgs) != 2 || msgs[0].Edits != 1 || msgs[1].ReplyTo != "" {
		t.Fatalf("messages %+v; want the original edited once and one plain message", msgs)
	}
	if got := notifiertest.DiscordPings(msgs[1]); !reflect.DeepEqual(got, wantPings) {
		t.Errorf("plain message pings %v, want exactly %v", got, wantPings)
	}
}
