package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/activitybridge/activitybridge/notifier"
	"github.com/activitybridge/activitybridge/notifier/notifiertest"
	"github.com/activitybridge/activitybridge/notifier/slack"
)

var wantPings = []string{"<!subteam^S0123ABCD>", "<@U0456EFGH>", "<!here>"}

func failedMsg() notifier.Message {
	return notifier.Message{
		Status:   notifier.StatusFailure,
		Title:    "main deploy failed · My Shop " + strings.Join(notifiertest.Hostile, " "),
		Text:     "Cloé pushed <@U999> <!channel> @everyone",
		Footer:   "production · environment.push",
		Mentions: []string{"S0123ABCD", "U0456EFGH", "here"},
	}
}

// failReplies makes the first n thread replies fail with a 500 before they reach Slack.
type failReplies struct {
	mu sync.Mutex
	n  int
}

func (f *failReplies) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	f.mu.Lock()
	fail := f.n > 0 && strings.Contains(string(body), "thread_ts=")
	if fail {
		f.n--
	}
	f.mu.Unlock()
	if fail {
		return nil, errors.New("connection reset by peer")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// A failure that edits an earlier (pending) message: one edit, which pings nobody, plus one thread reply
// broadcast to the channel that carries exactly the listed mentions; Send returns the original's ref.
// When the reply fails after the edit went through, Send fails, and the retry edits again (the same
// content) and replies once.
func TestBotFailureEditRepliesWithMentions(t *testing.T) {
	fake := notifiertest.NewSlack(t)
	rt := &failReplies{n: 1}
	bot, err := slack.NewBot(fake.Token(), fake.APIURL(), &http.Client{Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	ch := bot.Channel("#deploys")
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
	msgs := fake.Messages("#deploys")
	if len(msgs) != 2 {
		t.Fatalf("%d messages in the channel, want the original and one reply: %+v", len(msgs), msgs)
	}
	orig, reply := msgs[0], msgs[1]
	if orig.Edits != 2 {
		t.Errorf("original edited %d times, want 2 (once per Send)", orig.Edits)
	}
	if got := notifiertest.SlackPings(orig); len(got) != 0 {
		t.Errorf("the edited message carries mentions %v; an edit notifies nobody, they belong in the reply", got)
	}
	if reply.ThreadTS != first.ID || !reply.ReplyBroadcast {
		t.Errorf("reply thread_ts=%q reply_broadcast=%v, want %q and true", reply.ThreadTS, reply.ReplyBroadcast, first.ID)
	}
	if got := notifiertest.SlackPings(reply); !reflect.DeepEqual(got, wantPings) {
		t.Errorf("reply pings %v, want exactly %v (hostile text must stay inert)\ntext: %s", got, wantPings, reply.Text)
	}
	if !strings.Contains(reply.Text, "❌ main deploy failed · My Shop") {
		t.Errorf("reply text %q does not say what failed", reply.Text)
	}
}

// A failure posted as a new message (nothing to edit) carries the mentions itself; a success carries none.
func TestPostCarriesMentions(t *testing.T) {
	fake := notifiertest.NewSlack(t)
	bot, err := slack.NewBot(fake.Token(), fake.APIURL(), client())
	if err != nil {
		t.Fatal(err)
	}
	hook, err := slack.NewWebhook("previews", fake.WebhookURL("previews"), client())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, n := range []notifier.Notifier{bot.Channel("#deploys"), hook} {
		if _, err := n.Send(ctx, failedMsg(), notifier.Ref{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, target := range []string{"#deploys", "previews"} {
		msgs := fake.Messages(target)
		if len(msgs) != 1 {
			t.Fatalf("%s: %d messages, want 1", target, len(msgs))
		}
		if got := notifiertest.SlackPings(msgs[0]); !reflect.DeepEqual(got, wantPings) {
			t.Errorf("%s: pings %v, want %v", target, got, wantPings)
		}
		if !strings.HasPrefix(msgs[0].Text, "<!subteam^S0123ABCD> <@U0456EFGH> <!here> ❌") {
			t.Errorf("%s: fallback text %q does not lead with the mentions", target, msgs[0].Text)
		}
	}
}

// Only well-formed tokens become mentions: anything else in Mentions (a job persisted by hand, a bug)
// is dropped, never passed through as markup.
func TestMentionsOnlyFromTokens(t *testing.T) {
	msg := failedMsg()
	msg.Mentions = []string{"U0456EFGH", "<!channel>", "channel", "u123", "S1|x", "everyone", "W0123ABCD"}
	p := slack.Build(msg)
	got := notifiertest.SlackPings(notifiertest.SlackMessage{Text: p.Text, Blocks: mustJSON(t, p.Blocks)})
	want := []string{"<@U0456EFGH>", "<@W0123ABCD>"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pings %v, want %v", got, want)
	}
	if r := slack.BuildReply(notifier.Message{Status: notifier.StatusFailure, Title: "x", Mentions: []string{"<!here>"}}); r.Text != "" {
		t.Errorf("BuildReply without a usable token = %+v, want the zero payload", r)
	}
}

// A thread reply to a message the fake does not know is refused, like any other post over a limit.
func TestFakeSlackThreadLimits(t *testing.T) {
	fake := notifiertest.NewSlack(t)
	form := func(kv ...string) string {
		v := []string{"token=" + fake.Token(), "channel=C0123ABCD"}
		if !strings.HasPrefix(strings.Join(kv, "&"), "text=") && !strings.Contains(strings.Join(kv, "&"), "&text=") {
			v = append(v, "text=hi")
		}
		return strings.Join(append(v, kv...), "&")
	}
	post := func(body string) string {
		resp, err := http.Post(fake.APIURL()+"chat.postMessage", "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := post(form("thread_ts=1700000000.999999")); !strings.Contains(got, "thread_not_found") {
		t.Errorf("reply to an unknown ts: %s", got)
	}
	if got := post(form("reply_broadcast=true")); !strings.Contains(got, "invalid_arguments") {
		t.Errorf("reply_broadcast without thread_ts: %s", got)
	}
	if got := post(form()); !strings.Contains(got, `"ok":true`) {
		t.Fatalf("plain post: %s", got)
	}
	ts := fake.Messages("C0123ABCD")[0].TS
	if got := post(form("thread_ts="+ts, "reply_broadcast=maybe")); !strings.Contains(got, "invalid_arguments") {
		t.Errorf("reply_broadcast=maybe: %s", got)
	}
	if got := post(form("thread_ts="+ts, "text="+strings.Repeat("x", 40001))); !strings.Contains(got, "msg_too_long") {
		t.Errorf("a reply over the text limit: %s", got)
	}
	if got := post(form("thread_ts="+ts, "reply_broadcast=true")); !strings.Contains(got, `"ok":true`) {
		t.Errorf("a good reply: %s", got)
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

// Mentions and linked list items stay within Slack's limits whatever the text around them, and only the
// mentions ping.
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
		for _, p := range []slack.Payload{slack.Build(msg), slack.BuildReply(msg)} {
			raw := mustJSON(t, p.Blocks)
			if problems := notifiertest.SlackBlockProblems(raw); problems != nil {
				t.Fatalf("%q: Slack would refuse the blocks: %v", h, problems)
			}
			if n := len([]rune(p.Text)); n > 4000 {
				t.Errorf("%q: fallback text of %d runes", h, n)
			}
			if got := notifiertest.SlackPings(notifiertest.SlackMessage{Text: p.Text, Blocks: raw}); !reflect.DeepEqual(got, wantPings) {
				t.Errorf("%q: pings %v, want %v", h, got, wantPings)
			}
			if strings.Contains(string(raw), "javascript:") && strings.Contains(string(raw), "<javascript:") {
				t.Errorf("%q: a javascript: link", h)
			}
		}
	}
}
