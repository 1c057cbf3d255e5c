package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

// waitFor polls cond until it holds, or fails the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Mentions and state precedence together: a cancelled deploy (result failure, shown 🚫) pings nobody,
// and a failure that became a dead letter, replayed once its message shows a terminal state, is
// superseded: no edit back to ❌ and no ping.
func TestCancelledAndReplayedFailurePingNobody(t *testing.T) {
	c := newChatApp(t, "abcdefgh1234567/main mention=slack:S0123ABCD -> slack:#deploys")
	c.accept(t, pushBody(t, "pending", ""))

	stop := c.slack.FailWhere(notifiertest.Failure{SlackError: "invalid_blocks"}, "chat.update")
	if _, _, err := c.Accept(context.Background(), pushBody(t, "complete", "failure")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failure's dead letter", func() bool {
		st, err := c.store.Stats(context.Background())
		return err == nil && st.DeadLetters == 1 && st.Pending == 0
	})
	stop()

	// The message reaches a terminal state meanwhile (here: cancelled, which pings nobody).
	if _, _, err := c.Accept(context.Background(), pushBody(t, "cancelled", "failure")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cancelled edit", func() bool {
		m := c.slack.Messages("#deploys")
		return len(m) == 1 && strings.HasPrefix(m[0].Text, "🚫")
	})
	if n, err := c.store.ReplayAll(context.Background()); err != nil || n != 1 {
		t.Fatalf("ReplayAll = %d, %v; want the failure", n, err)
	}
	c.worker.Notify()
	waitFor(t, "the replayed failure to be finished", func() bool {
		st, err := c.store.Stats(context.Background())
		return err == nil && st.Pending == 0
	})

	msgs := c.slack.Messages("#deploys")
	if len(msgs) != 1 {
		t.Fatalf("#deploys: %d messages, want the deploy message alone (no reply): %+v", len(msgs), msgs)
	}
	if !strings.HasPrefix(msgs[0].Text, "🚫") || len(notifiertest.SlackPings(msgs[0])) != 0 {
		t.Errorf("deploy message %q pings %v; want it to stay cancelled and ping nobody", msgs[0].Text, notifiertest.SlackPings(msgs[0]))
	}
}
