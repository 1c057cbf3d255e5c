package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

// The real binary: a signed health notification is accepted on /webhook and routed by project,
// environment and type health.disk; a pending deploy that fails is edited and the on-call group is
// pinged once in a thread reply; project titles and commit links show. Unsigned bodies are refused,
// and a body that is neither an activity nor a health notification gets 400 with a reason.
func TestServeNotices(t *testing.T) {
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	env := chatEnv(s, d, strings.Join([]string{
		"test_project/master events=health.* -> slack:#ops, discord:prod",
		"abcdefgh1234567/main mention=slack:S0123ABCD,discord:&998877665544332211 -> slack:#deploys, discord-channel:123456789012345678",
	}, "\n"))
	env["BRIDGE_PROJECT_NAMES"] = "abcdefgh1234567=My Shop"
	env["BRIDGE_REPOSITORIES"] = "abcdefgh1234567=https://github.com/acme/shop"
	b := startBridge(t, env)

	health := fixture.Bytes("health.webhook")
	if code, body := b.post("", health, ""); code != http.StatusUnauthorized {
		t.Errorf("unsigned health notification: %d %s, want 401", code, body)
	}
	code, body := b.post("", health, sharedKey)
	if code != http.StatusAccepted || !strings.Contains(body, `"queued":2`) || !strings.Contains(body, `"activity":"health-`) {
		t.Fatalf("health: %d %s, want 202 with queued 2", code, body)
	}
	waitFor(t, 20*time.Second, "the disk warning in #ops and on Discord prod", func() bool {
		return len(s.Messages("#ops")) == 1 && len(d.Messages("prod")) == 1
	})
	if got := s.Messages("#ops")[0].Text; !strings.HasPrefix(got, "⚠️ low disk space on mysql · master · Test project") {
		t.Errorf("Slack health notice: %q", got)
	}
	if got := string(d.Messages("prod")[0].Embeds[0]); !strings.Contains(got, "128 MiB of 1 GiB free") {
		t.Errorf("Discord health notice: %s", got)
	}

	for _, bad := range []struct{ body, want string }{
		{`{"event":{"component":"disk"}}`, `not a health notification: field \"event.origin.project\": missing or empty`},
		{`{"hello":"world"}`, `not an activity: field \"id\": missing or empty`},
	} {
		code, body := b.post("", []byte(bad.body), sharedKey)
		if code != http.StatusBadRequest || !strings.Contains(body, bad.want) {
			t.Errorf("POST %s: %d %s, want 400 saying %s", bad.body, code, body, bad.want)
		}
	}

	pending := variant(t, "push-failure", map[string]any{"state": "pending", "result": nil, "commands": nil, "completed_at": nil})
	if code, body := b.post("", pending, sharedKey); code != http.StatusAccepted {
		t.Fatalf("pending: %d %s", code, body)
	}
	waitFor(t, 20*time.Second, "the pending deploy in #deploys", func() bool { return len(s.Messages("#deploys")) == 1 })
	for range 2 { // the same failure twice: one ping
		if code, body := b.post("", fixture.Bytes("push-failure"), sharedKey); code != http.StatusAccepted && code != http.StatusOK {
			t.Fatalf("failure: %d %s", code, body)
		}
	}
	waitFor(t, 20*time.Second, "the reply in #deploys and on the Discord channel", func() bool {
		return len(s.Messages("#deploys")) == 2 && len(d.Messages("123456789012345678")) == 2
	})
	time.Sleep(200 * time.Millisecond) // room for a wrong third message to show up
	msgs := s.Messages("#deploys")
	if len(msgs) != 2 || msgs[0].Edits != 1 || msgs[1].ThreadTS != msgs[0].TS {
		t.Fatalf("#deploys: %+v; want the deploy message edited once and one thread reply", msgs)
	}
	if got := notifiertest.SlackPings(msgs[1]); len(got) != 1 || got[0] != "<!subteam^S0123ABCD>" {
		t.Errorf("thread reply pings %v", got)
	}
	if got := notifiertest.DiscordPings(d.Messages("123456789012345678")[1]); len(got) != 1 || got[0] != "<@&998877665544332211>" {
		t.Errorf("Discord reply pings %v", got)
	}
	if !strings.Contains(msgs[0].Text, "main deploy failed · My Shop") || !strings.Contains(string(msgs[0].Blocks), "https://github.com/acme/shop/commit/") ||
		!strings.Contains(string(msgs[0].Blocks), "abcdefgh1234567") {
		t.Errorf("deploy message lacks the title, the commit link or the ID: %s\n%s", msgs[0].Text, msgs[0].Blocks)
	}
}
