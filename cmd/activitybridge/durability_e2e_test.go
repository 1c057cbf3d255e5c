package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

// activityIDs counts, per activity ID, the messages whose content names it (the View activity link ends with
// the activity ID).
func activityIDs(contents []string) map[string]int {
	re := regexp.MustCompile(`/log/([a-z0-9]+)`)
	out := map[string]int{}
	for _, c := range contents {
		for _, m := range re.FindAllStringSubmatch(c, 1) {
			out[m[1]]++
		}
	}
	return out
}

func slackContents(ms []notifiertest.SlackMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Blocks))
	}
	return out
}

func discordContents(ms []notifiertest.DiscordMessage) []string {
	var out []string
	for _, m := range ms {
		var b strings.Builder
		for _, e := range m.Embeds {
			b.Write(e)
		}
		out = append(out, b.String())
	}
	return out
}

func pushes(t *testing.T, prefix string, n int) (map[string][]byte, []string) {
	t.Helper()
	bodies := map[string][]byte{}
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%s%03d", prefix, i)
		ids = append(ids, id)
		bodies[id] = variant(t, "environment.push", map[string]any{"id": id})
	}
	return bodies, ids
}

func assertExactlyOnce(t *testing.T, where string, got map[string]int, ids []string) {
	t.Helper()
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("%s: activity %s arrived %d times, want exactly once", where, id, got[id])
		}
	}
	if len(got) != len(ids) {
		t.Errorf("%s: %d distinct activities arrived, want %d", where, len(got), len(ids))
	}
}

// A notice accepted with 202 survives kill -9 while the chat is down, and arrives exactly once after restart.
func TestKillNineLosesNothingAndRepeatsNothing(t *testing.T) {
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	s.SetDown(true)
	d.SetDown(true)
	env := chatEnv(s, d, "*/* -> slack:#deploys, discord:prod")
	env["BRIDGE_DATA_DIR"] = t.TempDir()
	b := startBridge(t, env)
	bodies, ids := pushes(t, "crash", 10)
	for _, id := range ids {
		if code, body := b.post("", bodies[id], sharedKey); code != http.StatusAccepted {
			t.Fatalf("%s: got %d %s, want 202", id, code, body)
		}
	}
	waitFor(t, 20*time.Second, "the bridge to try the downed chat", func() bool {
		return len(s.Requests()) > 0 && len(d.Requests()) > 0
	})
	b.kill()

	s.SetDown(false)
	d.SetDown(false)
	delete(env, "BRIDGE_LISTEN")
	delete(env, "BRIDGE_ADMIN_LISTEN")
	b2 := startBridge(t, env)
	waitFor(t, 60*time.Second, "every notice in Slack and Discord after the restart", func() bool {
		return len(s.Messages("#deploys")) >= len(ids) && len(d.Messages("prod")) >= len(ids)
	})
	waitFor(t, 20*time.Second, "an empty queue", func() bool {
		_, m := b2.get("/metrics")
		return strings.Contains(m, "activitybridge_queue_depth 0")
	})
	assertExactlyOnce(t, "slack #deploys", activityIDs(slackContents(s.Messages("#deploys"))), ids)
	assertExactlyOnce(t, "discord prod", activityIDs(discordContents(d.Messages("prod"))), ids)
	if code := b2.stop(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
}

// A chat outage (503 for a while) delays notices; when the service recovers all arrive, none twice.
func TestOutageThenRecovery(t *testing.T) {
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	s.SetDown(true)
	b := startBridge(t, chatEnv(s, d, "*/* -> slack:#deploys"))
	bodies, ids := pushes(t, "outage", 5)
	for _, id := range ids {
		if code, body := b.post("", bodies[id], sharedKey); code != http.StatusAccepted {
			t.Fatalf("%s: got %d %s", id, code, body)
		}
	}
	waitFor(t, 20*time.Second, "three refused attempts", func() bool {
		n := 0
		for _, r := range s.Requests() {
			if r.Status == http.StatusServiceUnavailable {
				n++
			}
		}
		return n >= 3
	})
	s.SetDown(false)
	waitFor(t, 60*time.Second, "every notice after the outage", func() bool {
		return len(s.Messages("#deploys")) >= len(ids)
	})
	waitFor(t, 20*time.Second, "an empty queue", func() bool {
		_, m := b.get("/metrics")
		return strings.Contains(m, "activitybridge_queue_depth 0")
	})
	assertExactlyOnce(t, "slack #deploys", activityIDs(slackContents(s.Messages("#deploys"))), ids)
	_, m := b.get("/metrics")
	if !strings.Contains(m, `activitybridge_retries_total{kind="slack"}`) {
		t.Errorf("/metrics does not count the retries")
	}
}

// One deploy (in_progress, then complete) is one message that is edited, on every destination that can edit;
// an incoming webhook, which cannot, gets one message per state. The post is failed twice first: its edit must
// wait for it, never overtake it.
func TestOneMessagePerDeployEditedAsItProgresses(t *testing.T) {
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	b := startBridge(t, chatEnv(s, d, "*/* -> slack:#deploys, slack-webhook:previews, discord:prod, discord-channel:123456789012345678"))
	s.FailNext(2, notifiertest.Failure{Status: http.StatusInternalServerError})
	d.FailNext(2, notifiertest.Failure{Status: http.StatusInternalServerError})

	const id = "lifecycle0001"
	running := variant(t, "push-in-progress", map[string]any{"id": id})
	done := variant(t, "environment.push", map[string]any{"id": id})
	if code, body := b.post("", running, sharedKey); code != http.StatusAccepted {
		t.Fatalf("in_progress: got %d %s", code, body)
	}
	if code, body := b.post("", done, sharedKey); code != http.StatusAccepted {
		t.Fatalf("complete: got %d %s", code, body)
	}
	waitFor(t, 60*time.Second, "both states on every destination", func() bool {
		ok := func(n, edits int) bool { return n == 1 && edits == 1 }
		sm, dm, bm := s.Messages("#deploys"), d.Messages("prod"), d.Messages("123456789012345678")
		return len(sm) == 1 && ok(len(sm), sm[0].Edits) &&
			len(dm) == 1 && ok(len(dm), dm[0].Edits) &&
			len(bm) == 1 && ok(len(bm), bm[0].Edits) &&
			len(s.Messages("previews")) == 2
	})
	if got := string(s.Messages("#deploys")[0].Blocks); !strings.Contains(got, "deployed") || strings.Contains(got, "deploying") {
		t.Errorf("the Slack message does not show the final state: %s", got)
	}
	if got := discordContents(d.Messages("prod"))[0]; !strings.Contains(got, "deployed") {
		t.Errorf("the Discord message does not show the final state: %s", got)
	}
	for _, m := range append(d.Messages("prod"), d.Messages("123456789012345678")...) {
		if !strings.Contains(strings.ReplaceAll(string(m.AllowedMentions), " ", ""), `"parse":[]`) {
			t.Errorf("Discord %s edit carries allowed_mentions %s, want parse []", m.Via, m.AllowedMentions)
		}
	}
	hooks := s.Messages("previews")
	if !strings.Contains(hooks[0].Text, "deploying") || !strings.Contains(hooks[1].Text, "deployed") {
		t.Errorf("incoming webhook messages out of order: %q then %q", hooks[0].Text, hooks[1].Text)
	}
}

// A burst to one channel is paced to Slack's 1 message per second: a fake that enforces that rate loses
// nothing and answers (almost) no 429.
func TestBurstToOneChannelIsPaced(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of paced sends")
	}
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	s.EnforceRate(time.Second, 3)
	b := startBridge(t, chatEnv(s, d, "*/* -> slack:#deploys"))
	bodies, ids := pushes(t, "burst", 60)
	for _, id := range ids {
		if code, body := b.post("", bodies[id], sharedKey); code != http.StatusAccepted {
			t.Fatalf("%s: got %d %s", id, code, body)
		}
	}
	waitFor(t, 150*time.Second, "all 60 notices", func() bool { return len(s.Messages("#deploys")) >= len(ids) })
	assertExactlyOnce(t, "slack #deploys", activityIDs(slackContents(s.Messages("#deploys"))), ids)
	limited := 0
	for _, r := range s.Requests() {
		if r.Status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited > 2 {
		t.Errorf("the fake answered 429 %d times to a burst of 60; pacing should avoid (almost) all of them", limited)
	}
}

// A notice Slack refuses for good becomes a dead letter that `activitybridge deadletters list` shows while the
// service runs; once the cause is fixed, `deadletters replay ID` delivers it.
func TestDeadLettersListAndReplay(t *testing.T) {
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	b := startBridge(t, chatEnv(s, d, "*/* -> slack:#deploys"))
	s.FailNext(1, notifiertest.Failure{SlackError: "channel_not_found"})
	body := variant(t, "environment.push", map[string]any{"id": "deadletter01"})
	if code, ans := b.post("", body, sharedKey); code != http.StatusAccepted {
		t.Fatalf("got %d %s", code, ans)
	}
	cli := func(args ...string) (string, error) {
		cmd := exec.Command(binPath, args...)
		cmd.Env = []string{"BRIDGE_ADMIN_LISTEN=" + b.admin}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	var list string
	waitFor(t, 20*time.Second, "the dead letter in the list", func() bool {
		out, err := cli("deadletters", "list")
		list = out
		return err == nil && strings.Contains(out, "deadletter01")
	})
	for _, want := range []string{"slack:#deploys", "channel_not_found", "complete"} {
		if !strings.Contains(list, want) {
			t.Errorf("deadletters list lacks %q:\n%s", want, list)
		}
	}
	if n := len(s.Messages("#deploys")); n != 0 {
		t.Fatalf("%d messages before the replay, want 0", n)
	}
	fields := strings.Fields(strings.Split(strings.TrimSpace(list), "\n")[1])
	if out, err := cli("deadletters", "replay", fields[0]); err != nil {
		t.Fatalf("replay %s: %v\n%s", fields[0], err, out)
	}
	waitFor(t, 20*time.Second, "the replayed notice in #deploys", func() bool { return len(s.Messages("#deploys")) == 1 })
	if out, _ := cli("deadletters", "list"); !strings.Contains(out, "no dead letters") {
		t.Errorf("after the replay the list still shows:\n%s", out)
	}
	if out, err := cli("deadletters", "replay", "999999"); err == nil {
		t.Errorf("replaying an unknown ID succeeded:\n%s", out)
	}
}
