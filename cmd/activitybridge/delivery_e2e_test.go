package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

// slackPace is the Slack notifiers' pace (notifier/slack): one message per 1.1 s after a burst of 3.
const slackPace = 1100 * time.Millisecond

// failedRequests counts the requests a fake answered with status.
func failedRequests(reqs []notifiertest.Request, status int) int {
	n := 0
	for _, r := range reqs {
		if r.Status == status {
			n++
		}
	}
	return n
}

// A notice the chat keeps refusing (500 for every message of one activity) does not hold back a second
// activity's notice to the same channel beyond the pace, through the real binary.
func TestPoisonNoticeDoesNotHoldItsChannel(t *testing.T) {
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	stop := s.FailWhere(notifiertest.Failure{Status: http.StatusInternalServerError}, "poison0001")
	b := startBridge(t, chatEnv(s, d, "*/* -> slack:#x"))
	if code, body := b.post("", variant(t, "push-in-progress", map[string]any{"id": "poison0001"}), sharedKey); code != http.StatusAccepted {
		t.Fatalf("poison: got %d %s", code, body)
	}
	if code, body := b.post("", variant(t, "environment.push", map[string]any{"id": "poison0001"}), sharedKey); code != http.StatusAccepted {
		t.Fatalf("poison complete: got %d %s", code, body)
	}
	waitFor(t, 20*time.Second, "the poison notice failing twice", func() bool {
		return failedRequests(s.Requests(), http.StatusInternalServerError) >= 2
	})
	posted := time.Now()
	if code, body := b.post("", variant(t, "environment.push", map[string]any{"id": "second0001"}), sharedKey); code != http.StatusAccepted {
		t.Fatalf("second: got %d %s", code, body)
	}
	waitFor(t, 20*time.Second, "the second activity's notice in #x", func() bool { return len(s.Messages("#x")) == 1 })
	took := time.Since(posted)
	if got := activityIDs(slackContents(s.Messages("#x"))); got["second0001"] != 1 {
		t.Fatalf("#x holds %v; want the second activity's notice", got)
	}
	// Within the pace (plus the time a request takes on a busy test machine), not after the poison's
	// backoff, which doubles from 1 s on every failure.
	if took > slackPace+2*time.Second {
		t.Errorf("the second notice took %v to arrive; want at most the pace (%v) plus the request", took, slackPace)
	}
	// The chat has the message a moment before the worker records it: wait for the record.
	waitFor(t, 10*time.Second, "the queue holding only the poison activity's two jobs", func() bool {
		_, m := b.get("/metrics")
		return strings.Contains(m, "activitybridge_queue_depth 2\n")
	})
	// Once the chat takes it, the poison activity is delivered in order: post, then its edit.
	stop()
	waitFor(t, 60*time.Second, "the poison activity delivered", func() bool {
		ms := s.Messages("#x")
		return len(ms) == 2 && ms[1].Edits == 1
	})
	if got := string(s.Messages("#x")[1].Blocks); !strings.Contains(got, "deployed") {
		t.Errorf("the poison activity's message does not end on its final state: %s", got)
	}
}

// metricsOnceCounted returns /metrics once substr is in it n times, or after a few seconds: the worker
// counts a delivery just after the chat and the store have seen it, so a scrape at that moment may not
// hold it yet.
func metricsOnceCounted(b *bridge, n int, substr string) string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, m := b.get("/metrics")
		if strings.Count(m, substr) >= n || time.Now().After(deadline) {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// complete persisted before in_progress: every destination ends showing complete, and the incoming webhook
// (which cannot edit) does not post the late in_progress either. A replayed old pending dead letter does not
// change the finished message.
func TestMessagesNeverGoBack(t *testing.T) {
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	b := startBridge(t, chatEnv(s, d, "*/* -> slack:#deploys, slack-webhook:previews, discord:prod"))

	const id = "latearrival01"
	done := variant(t, "environment.push", map[string]any{"id": id})
	running := variant(t, "push-in-progress", map[string]any{"id": id})
	for _, body := range [][]byte{done, running} {
		if code, ans := b.post("", body, sharedKey); code != http.StatusAccepted {
			t.Fatalf("got %d %s", code, ans)
		}
	}
	waitFor(t, 30*time.Second, "both jobs finished", func() bool {
		_, m := b.get("/metrics")
		return strings.Contains(m, "activitybridge_queue_depth 0") && len(s.Messages("#deploys")) == 1 &&
			len(d.Messages("prod")) == 1 && len(s.Messages("previews")) == 1
	})
	check := func(step string) {
		t.Helper()
		sm, dm, hm := s.Messages("#deploys"), d.Messages("prod"), s.Messages("previews")
		if len(sm) != 1 || sm[0].Edits != 0 || !strings.Contains(string(sm[0].Blocks), "deployed") {
			t.Errorf("%s: Slack #deploys = %d messages (%d edits); want the complete one, never edited back", step, len(sm), sm[0].Edits)
		}
		if len(dm) != 1 || dm[0].Edits != 0 || !strings.Contains(discordContents(dm)[0], "deployed") {
			t.Errorf("%s: Discord prod = %d messages; want the complete one, never edited back", step, len(dm))
		}
		if len(hm) != 1 || !strings.Contains(hm[0].Text, "deployed") {
			t.Errorf("%s: the incoming webhook got %d messages; want only the complete one (the late state not posted)", step, len(hm))
		}
	}
	check("late in_progress")
	m := metricsOnceCounted(b, 3, `outcome="skipped",reason="superseded"} 1`)
	for _, kind := range []string{"slack", "slack-webhook", "discord"} {
		if want := fmt.Sprintf(`activitybridge_deliveries_total{kind=%q,outcome="skipped",reason="superseded"} 1`, kind); !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grepLines(m, "deliveries_total"))
		}
	}

	// An old pending that became a dead letter (Slack refused it), replayed after the activity completed.
	s, d = notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	b = startBridge(t, chatEnv(s, d, "*/* -> slack:#deploys"))
	const id2 = "replayedold01"
	s.FailNext(1, notifiertest.Failure{SlackError: "channel_not_found"})
	b2post := func(body []byte) {
		if code, ans := b.post("", body, sharedKey); code != http.StatusAccepted {
			t.Fatalf("got %d %s", code, ans)
		}
	}
	b2post(variant(t, "push-pending", map[string]any{"id": id2}))
	waitFor(t, 20*time.Second, "the pending notice dead", func() bool {
		_, m := b.get("/metrics")
		return strings.Contains(m, "activitybridge_dead_letters 1")
	})
	b2post(variant(t, "environment.push", map[string]any{"id": id2}))
	waitFor(t, 20*time.Second, "the complete notice", func() bool { return len(s.Messages("#deploys")) == 1 })
	resp, err := http.Post("http://"+b.admin+"/deadletters/replay", "application/json", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("replay: %v %v", resp, err)
	}
	resp.Body.Close()
	waitFor(t, 20*time.Second, "the replayed job finished", func() bool {
		_, m := b.get("/metrics")
		return strings.Contains(m, "activitybridge_queue_depth 0") && strings.Contains(m, "activitybridge_dead_letters 0")
	})
	sm := s.Messages("#deploys")
	if len(sm) != 1 || sm[0].Edits != 0 || !strings.Contains(string(sm[0].Blocks), "deployed") {
		t.Errorf("after the replay #deploys holds %d messages (the first edited %d times); want the complete one, unchanged", len(sm), sm[0].Edits)
	}
}

// Values the outbox could never store get 400 naming the field, nothing is queued, and the service keeps
// delivering.
func TestUnstorableValuesRefused(t *testing.T) {
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	b := startBridge(t, chatEnv(s, d, "*/* -> slack:#deploys"))
	tests := []struct {
		name  string
		set   map[string]any
		field string
	}{
		{"32,748-character id", map[string]any{"id": strings.Repeat("a", 32748)}, `\"id\"`},
		{"1 MB id", map[string]any{"id": strings.Repeat("b", 1<<20)}, `\"id\"`},
		{"40 KB state", map[string]any{"state": strings.Repeat("c", 40<<10)}, `\"state\"`},
		{"state bogus", map[string]any{"state": "bogus"}, `\"state\"`},
	}
	for _, tt := range tests {
		code, body := b.post("", variant(t, "environment.push", tt.set), sharedKey)
		if code != http.StatusBadRequest || !strings.Contains(body, tt.field) || len(body) > 500 {
			t.Errorf("%s: got %d %.300s; want 400 naming %s, short", tt.name, code, body, tt.field)
		}
	}
	_, m := b.get("/metrics")
	if !strings.Contains(m, "activitybridge_queue_depth 0") {
		t.Errorf("something was queued:\n%s", grepLines(m, "queue_depth"))
	}
	if code, body := b.post("", variant(t, "environment.push", map[string]any{"id": "afterbad001"}), sharedKey); code != http.StatusAccepted {
		t.Fatalf("good notice after the bad ones: got %d %s", code, body)
	}
	waitFor(t, 20*time.Second, "the good notice delivered", func() bool { return len(s.Messages("#deploys")) == 1 })
	for _, line := range strings.Split(b.stderr.String()+b.stdout.String(), "\n") {
		if len(line) > 4000 {
			t.Errorf("a log line of %d bytes: %.200s…", len(line), line)
		}
	}
}

// A Discord global 429 with a long retry_after while Slack has notices queued: Slack delivers at its pace,
// Discord's notices wait without holding a send slot, and SIGTERM exits within the drain bound.
func TestDiscordLimitNeverDelaysSlack(t *testing.T) {
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	d.LimitGlobally(10 * time.Minute)
	// More Discord destinations than the worker has send slots (8), all on the one webhook session:
	// were a limited send to sleep in its slot, they would take every slot from Slack.
	var hooks, targets []string
	for i := range 10 {
		name := fmt.Sprintf("hook%d", i)
		hooks = append(hooks, name+"="+d.WebhookURL(name))
		targets = append(targets, "discord:"+name)
	}
	env := chatEnv(s, d, "*/* -> slack:#deploys, discord-channel:123456789012345678, "+strings.Join(targets, ", "))
	env["BRIDGE_DISCORD_WEBHOOKS"] = strings.Join(hooks, ",")
	b := startBridge(t, env)
	const n = 12
	bodies, ids := pushes(t, "globallimit", n)
	posted := time.Now()
	for _, id := range ids {
		if code, body := b.post("", bodies[id], sharedKey); code != http.StatusAccepted {
			t.Fatalf("%s: got %d %s", id, code, body)
		}
	}
	waitFor(t, 60*time.Second, "every notice in Slack", func() bool { return len(s.Messages("#deploys")) == n })
	took := time.Since(posted)
	// 3 at once, then one per pace step; a second of slack for a busy machine.
	if want := time.Duration(n-3)*slackPace + 3*time.Second; took > want {
		t.Errorf("Slack took %v for %d notices; want them at its own pace (at most %v)", took, n, want)
	}
	assertExactlyOnce(t, "slack #deploys", activityIDs(slackContents(s.Messages("#deploys"))), ids)
	for _, target := range append([]string{"123456789012345678"}, strings.Fields(strings.ReplaceAll(strings.Join(targets, " "), "discord:", ""))...) {
		if got := len(d.Messages(target)); got != 0 {
			t.Errorf("Discord %s shows %d messages during its global limit; want 0", target, got)
		}
	}
	// Once a session has seen the global 429, it holds its notices without asking again (discordgo would
	// have slept the whole retry_after before each request instead).
	if got := len(d.Requests()); got > 12 {
		t.Errorf("Discord got %d requests during its global limit; want about one per session", got)
	}
	m := metricsOnceCounted(b, 1, `activitybridge_deliveries_total{kind="discord",outcome="retry",reason="retry_after"}`)
	if !strings.Contains(m, `activitybridge_deliveries_total{kind="discord",outcome="retry",reason="retry_after"}`) {
		t.Errorf("/metrics does not count Discord's retry-after:\n%s", grepLines(m, "deliveries_total"))
	}
	start := time.Now()
	if code := b.stop(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d; want 0", code)
	}
	// The drain bound is 10 s (plus the HTTP shutdown); nothing is in flight, so it should be quick.
	if took := time.Since(start); took > 12*time.Second {
		t.Errorf("SIGTERM took %v to exit; want within the drain bound", took)
	}
}
