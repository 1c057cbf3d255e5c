package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/internal/config"
	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/internal/receiver"
	"github.com/activitybridge/activitybridge/internal/route"
	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

const (
	discordChannel = "123456789012345678"
	discordUser    = "112233445566778899"
	discordRole    = "998877665544332211"
)

type chatApp struct {
	*App
	slack   *notifiertest.Slack
	discord *notifiertest.Discord
}

// newChatApp returns an App with a memory store whose notifiers talk to fake Slack and Discord servers.
func newChatApp(t *testing.T, routes string) *chatApp {
	t.Helper()
	table, err := route.Parse(routes)
	if err != nil {
		t.Fatal(err)
	}
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	var hooks config.Hooks
	if err := hooks.Decode("prod=" + d.WebhookURL("prod")); err != nil {
		t.Fatal(err)
	}
	a, err := New(&config.Config{Store: "memory", Table: table, MaxAge: time.Hour, PublicConsoleURL: "https://console.platform.sh",
		SlackToken: config.Secret(s.Token()), SlackAPIUrl: s.APIURL(), DiscordAPIUrl: d.APIURL(),
		DiscordToken: config.Secret(d.BotToken()), DiscordWebhooks: hooks}, zerolog.Nop(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.worker.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &chatApp{App: a, slack: s, discord: d}
}

// accept hands body to Accept and waits until every queued notice is delivered.
func (c *chatApp) accept(t *testing.T, body []byte) int {
	t.Helper()
	_, queued, err := c.Accept(context.Background(), body)
	if err != nil && !errors.Is(err, receiver.ErrDuplicate) {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := c.store.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Pending == 0 {
			if st.DeadLetters > 0 {
				dl, _ := c.store.DeadLetters(context.Background())
				t.Fatalf("dead letters: %+v", dl)
			}
			return queued
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d notices still pending", st.Pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pushBody returns push-failure's body for one activity in the given state (pending: no result, no
// failed command yet), with untrusted text that tries to ping.
func pushBody(t *testing.T, state, result string) []byte {
	t.Helper()
	body := fixture.WithUntrusted("Fix <!channel> <@U999> @everyone <@&"+discordRole+">", "main", "Mallory <!here>", "Mallory pushed @here")
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m["state"] = state
	m["result"] = nil
	if result != "" {
		m["result"] = result
	}
	if state != "complete" {
		delete(m, "commands")
		m["completed_at"] = nil
	}
	if result == "success" {
		delete(m, "commands")
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const mentionRoutes = "abcdefgh1234567/main mention=slack:S0123ABCD,slack:U0456EFGH,discord:" + discordUser + ",discord:&" + discordRole +
	" -> slack:#deploys, discord-channel:" + discordChannel + ", discord:prod"

// The on-call is pinged once per failed deploy and destination: the failure edits the pending message
// (an edit notifies nobody) and a reply tied to it carries exactly the listed mentions; the same failure
// received again pings nobody; hostile text next to the mentions stays inert.
func TestFailurePingsOnceWithReply(t *testing.T) {
	c := newChatApp(t, mentionRoutes)
	if n := c.accept(t, pushBody(t, "pending", "")); n != 3 {
		t.Fatalf("pending: queued %d, want 3", n)
	}
	if n := c.accept(t, pushBody(t, "complete", "failure")); n != 3 {
		t.Fatalf("failure: queued %d, want 3", n)
	}
	if n := c.accept(t, pushBody(t, "complete", "failure")); n != 0 {
		t.Fatalf("the same failure again: queued %d, want 0 (a duplicate)", n)
	}

	msgs := c.slack.Messages("#deploys")
	if len(msgs) != 2 {
		t.Fatalf("slack: %d messages, want the deploy message and one reply", len(msgs))
	}
	if msgs[0].Edits != 1 || len(notifiertest.SlackPings(msgs[0])) != 0 {
		t.Errorf("slack original: %d edits, pings %v; want 1 edit and no ping", msgs[0].Edits, notifiertest.SlackPings(msgs[0]))
	}
	if msgs[1].ThreadTS != msgs[0].TS || !msgs[1].ReplyBroadcast {
		t.Errorf("slack reply: thread_ts %q broadcast %v, want %q and true", msgs[1].ThreadTS, msgs[1].ReplyBroadcast, msgs[0].TS)
	}
	if got, want := notifiertest.SlackPings(msgs[1]), []string{"<!subteam^S0123ABCD>", "<@U0456EFGH>"}; !reflect.DeepEqual(got, want) {
		t.Errorf("slack reply pings %v, want exactly %v\n%s", got, want, msgs[1].Text)
	}

	wantDiscord := []string{"<@" + discordUser + ">", "<@&" + discordRole + ">"}
	bot := c.discord.Messages(discordChannel)
	if len(bot) != 2 || bot[0].Edits != 1 || bot[1].ReplyTo != bot[0].ID {
		t.Fatalf("discord bot: %+v; want the deploy message edited once and one reply to it", bot)
	}
	hook := c.discord.Messages("prod")
	if len(hook) != 2 || hook[0].Edits != 1 || !strings.Contains(hook[1].Content, "/"+hook[0].ID+")") {
		t.Fatalf("discord webhook: %+v; want the deploy message edited once and one linked notice", hook)
	}
	for _, m := range []notifiertest.DiscordMessage{bot[0], hook[0]} {
		if got := notifiertest.DiscordPings(m); len(got) != 0 {
			t.Errorf("discord original pings %v", got)
		}
	}
	for _, m := range []notifiertest.DiscordMessage{bot[1], hook[1]} {
		if got := notifiertest.DiscordPings(m); !reflect.DeepEqual(got, wantDiscord) {
			t.Errorf("discord reply pings %v, want exactly %v\n%s", got, wantDiscord, m.Content)
		}
	}
}

// A success pings nobody, and a failure with nothing to edit carries the mentions itself.
func TestSuccessPingsNobody(t *testing.T) {
	c := newChatApp(t, mentionRoutes)
	c.accept(t, pushBody(t, "complete", "success"))
	for _, m := range c.slack.Messages("#deploys") {
		if got := notifiertest.SlackPings(m); len(got) != 0 {
			t.Errorf("slack success pings %v", got)
		}
	}
	for _, target := range []string{discordChannel, "prod"} {
		for _, m := range c.discord.Messages(target) {
			if got := notifiertest.DiscordPings(m); len(got) != 0 {
				t.Errorf("discord %s success pings %v", target, got)
			}
		}
	}
	c2 := newChatApp(t, mentionRoutes)
	c2.accept(t, pushBody(t, "complete", "failure"))
	if msgs := c2.slack.Messages("#deploys"); len(msgs) != 1 || len(notifiertest.SlackPings(msgs[0])) != 2 {
		t.Errorf("a failure posted anew: %d messages, pings %v; want one message with the mentions", len(msgs), notifiertest.SlackPings(msgs[0]))
	}
}

// A signed health notification is accepted on the webhook path, routed by project, environment and
// type health.<component>, and rendered on both services; a body that is neither an activity nor a
// health notification is a 400 with a reason.
func TestHealthNotificationRouted(t *testing.T) {
	c := newChatApp(t, `test_project/main -> slack:#nope
test_project/master events=health.disk mention=slack:S0123ABCD -> slack:#ops, discord:prod`)
	id, queued, err := c.Accept(context.Background(), fixture.Bytes("health.webhook"))
	if err != nil || queued != 2 || !strings.HasPrefix(id, "health-") {
		t.Fatalf("Accept(health) = %q, %d, %v; want a health- ID and 2 queued", id, queued, err)
	}
	c.accept(t, []byte(strings.Replace(string(fixture.Bytes("health.webhook")), `"severity": "warning"`, `"severity": "critical"`, 1)))
	ops := c.slack.Messages("#ops")
	if len(ops) != 2 {
		t.Fatalf("#ops: %d messages, want the warning and the critical one", len(ops))
	}
	if !strings.HasPrefix(ops[0].Text, "⚠️ low disk space on mysql · master · Test project") {
		t.Errorf("warning text %q", ops[0].Text)
	}
	if len(notifiertest.SlackPings(ops[0])) != 0 || !reflect.DeepEqual(notifiertest.SlackPings(ops[1]), []string{"<!subteam^S0123ABCD>"}) {
		t.Errorf("pings: warning %v, critical %v; want none, then the group", notifiertest.SlackPings(ops[0]), notifiertest.SlackPings(ops[1]))
	}
	if hook := c.discord.Messages("prod"); len(hook) != 2 || !strings.Contains(string(hook[0].Embeds[0]), "128 MiB of 1 GiB free") {
		t.Errorf("discord: %+v", hook)
	}
	if _, queued, err := c.Accept(context.Background(), fixture.Bytes("health.webhook")); !errors.Is(err, receiver.ErrDuplicate) || queued != 0 {
		t.Errorf("the same notification again: queued %d, %v; want a duplicate", queued, err)
	}

	for _, tt := range []struct{ body, want string }{
		{`{"hello":"world"}`, `not an activity: field "id": missing or empty`},
		{`{"event":{"component":"disk"}}`, `not a health notification: field "event.origin.project": missing or empty`},
		{`[1]`, `not an activity: body is a JSON array, want an object`},
	} {
		_, _, err := c.Accept(context.Background(), []byte(tt.body))
		if !errors.Is(err, receiver.ErrBadRequest) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Accept(%s) = %v, want a bad request saying %q", tt.body, err, tt.want)
		}
	}
}
