package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

const sharedKey = "c2hhcmVkLWtleS1mb3ItdGhlLWUyZS10ZXN0cy0xMjM0NTY3OA"

// chatEnv points a bridge at both fakes with a Slack bot channel, a Slack incoming webhook, a Discord
// webhook and a Discord bot channel.
func chatEnv(s *notifiertest.Slack, d *notifiertest.Discord, routes string) map[string]string {
	return map[string]string{
		"BRIDGE_SHARED_KEY":       sharedKey,
		"BRIDGE_SLACK_TOKEN":      s.Token(),
		"BRIDGE_SLACK_API_URL":    s.APIURL(),
		"BRIDGE_SLACK_WEBHOOKS":   "previews=" + s.WebhookURL("previews"),
		"BRIDGE_DISCORD_API_URL":  d.APIURL(),
		"BRIDGE_DISCORD_WEBHOOKS": "prod=" + d.WebhookURL("prod"),
		"BRIDGE_DISCORD_TOKEN":    d.BotToken(),
		"BRIDGE_ROUTES":           routes,
		"BRIDGE_LOG_LEVEL":        "debug",
	}
}

func TestServeDeliversEveryFixtureToTheRightChannels(t *testing.T) {
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	routes := strings.Join([]string{
		"*/* results=failure continue -> discord-channel:123456789012345678",
		"*/* events=environment.cron -> slack-webhook:previews",
		"abcdefgh1234567/main -> slack:#deploys, discord:prod",
		"*/* -> slack:#dev-deploys",
	}, "\n")
	b := startBridge(t, chatEnv(s, d, routes))

	push := fixture.Bytes("environment.push")
	code, body := b.post("", push, sharedKey)
	if code != http.StatusAccepted || !strings.Contains(body, `"queued":2`) || !strings.Contains(body, `"activity":"a1kz6ffxui7em"`) {
		t.Fatalf("push: got %d %s, want 202 with queued 2", code, body)
	}
	waitFor(t, 20*time.Second, "the push in #deploys and on Discord prod", func() bool {
		return len(s.Messages("#deploys")) == 1 && len(d.Messages("prod")) == 1
	})
	slackMsg := s.Messages("#deploys")[0]
	for _, want := range []string{"main", "2bab04e", "platformsh.site"} {
		if !strings.Contains(string(slackMsg.Blocks), want) {
			t.Errorf("Slack #deploys message lacks %q: %s", want, slackMsg.Blocks)
		}
	}
	dm := d.Messages("prod")[0]
	if got := string(dm.AllowedMentions); !strings.Contains(strings.ReplaceAll(got, " ", ""), `"parse":[]`) {
		t.Errorf("Discord allowed_mentions = %s, want parse []", got)
	}
	if len(dm.Embeds) != 1 || !strings.Contains(string(dm.Embeds[0]), "2bab04e") {
		t.Errorf("Discord embed lacks the head commit: %s", dm.Embeds)
	}

	cron := fixture.Bytes("environment.cron")
	if code, body := b.post("", cron, sharedKey); code != http.StatusAccepted {
		t.Fatalf("cron: got %d %s", code, body)
	}
	waitFor(t, 20*time.Second, "the cron notice on the previews incoming webhook", func() bool {
		return len(s.Messages("previews")) == 1
	})

	failure := fixture.Bytes("push-failure")
	if code, body := b.post("", failure, sharedKey); code != http.StatusAccepted {
		t.Fatalf("failure: got %d %s", code, body)
	}
	waitFor(t, 20*time.Second, "the failure on the Discord bot channel", func() bool {
		return len(d.Messages("123456789012345678")) == 1
	})

	// The same delivery again (Platform.sh may repeat it): 200, nothing queued, nothing posted.
	if code, body := b.post("", push, sharedKey); code != http.StatusOK || !strings.Contains(body, `"queued":0`) {
		t.Errorf("duplicate push: got %d %s, want 200 queued 0", code, body)
	}

	code, metrics := b.get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`activitybridge_webhooks_received_total{outcome="accepted"} 3`,
		`activitybridge_deliveries_total{kind="slack"`,
		`activitybridge_queue_depth`,
		`activitybridge_dead_letters`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if n := len(s.Messages("#deploys")); n != 2 {
		t.Errorf("#deploys got %d messages, want 2: the push and the failure (the duplicate must not post)", n)
	}
	if code := b.stop(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	assertNoSecrets(t, b.stderr.String()+b.stdout.String()+metrics, b.env)
}

func TestServeRefusesBadRequests(t *testing.T) {
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	env := chatEnv(s, d, "*/* -> slack:#deploys")
	env["BRIDGE_MAX_BODY"] = "64KiB"
	b := startBridge(t, env)
	push := fixture.Bytes("environment.push")
	tests := []struct {
		name     string
		body     []byte
		key      string
		want     int
		inReason string
	}{
		{"unsigned", push, "", http.StatusUnauthorized, "signature"},
		{"signed with another key", push, "b3RoZXIta2V5", http.StatusUnauthorized, "signature"},
		{"not JSON", []byte("hello"), sharedKey, http.StatusBadRequest, ""},
		{"not an activity", []byte(`{"hello":"world"}`), sharedKey, http.StatusBadRequest, "id"},
		{"too large", []byte(`{"id":"x","type":"t","project":"p","log":"` + strings.Repeat("a", 70<<10) + `"}`), sharedKey, http.StatusRequestEntityTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := b.post("", tt.body, tt.key)
			if code != tt.want {
				t.Fatalf("got %d %s, want %d", code, body, tt.want)
			}
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
				t.Fatalf("answer %q is not a JSON error", body)
			}
			if !strings.Contains(strings.ToLower(e.Error), tt.inReason) {
				t.Errorf("reason %q does not mention %q", e.Error, tt.inReason)
			}
		})
	}
	if n := len(s.Messages("#deploys")); n != 0 {
		t.Errorf("refused requests posted %d messages", n)
	}
	b.stop()
	assertNoSecrets(t, b.stderr.String(), b.env)
}

// assertNoSecrets fails when any credential of env appears in out.
func assertNoSecrets(t *testing.T, out string, env map[string]string) {
	t.Helper()
	var secrets []string
	for _, k := range []string{"BRIDGE_SHARED_KEY", "BRIDGE_SLACK_TOKEN", "BRIDGE_DISCORD_TOKEN", "BRIDGE_PATH_TOKEN"} {
		if v := env[k]; v != "" {
			secrets = append(secrets, v)
		}
	}
	for _, k := range []string{"BRIDGE_SLACK_WEBHOOKS", "BRIDGE_DISCORD_WEBHOOKS"} {
		for _, kv := range strings.Split(env[k], ",") {
			if _, u, ok := strings.Cut(kv, "="); ok {
				secrets = append(secrets, u)
				if i := strings.LastIndex(u, "/"); i > 0 {
					secrets = append(secrets, u[i+1:]) // the token part alone
				}
			}
		}
	}
	secrets = append(secrets, "SECRET-VAR-VALUE-1234", "SECRET-BASIC-AUTH-PW")
	for _, sec := range secrets {
		if sec != "" && strings.Contains(out, sec) {
			t.Errorf("a secret (%d chars, starting %q) appears in the output", len(sec), sec[:min(4, len(sec))])
		}
	}
}

var _ = fmt.Sprintf
