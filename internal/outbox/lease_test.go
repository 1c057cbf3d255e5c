package outbox

import (
	"context"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/notifier"
)

// TestLostRenewalStopsTheLane: when another owner has taken a lane over, the worker's next renewal
// fails and it stops on that lane at once: no more sends there, no write, and it leaves the new
// holder's lease alone.
func TestLostRenewalStopsTheLane(t *testing.T) {
	clock := newFakeClock()
	s := NewMemory(WithClock(clock))
	defer s.Close()
	rec := newRecorder(clock, func(c call, n int) (notifier.Ref, error) { return notifier.Ref{}, errFlaky })
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "m"))
	// The retry waits (an hour or more) block: the lane sits holding its lease, renewing it every 10 ms.
	w1 := start(t, s, rec.resolveAll, holdClock{clock, time.Hour}, WithOwner("w1"), WithLease(30*time.Millisecond),
		WithBackoff(2*time.Hour, 2*time.Hour), WithPollInterval(time.Hour))
	waitFor(t, "the first attempt", func() bool { return len(rec.Calls()) == 1 && laneCount(w1) == 1 })
	var taken []Lease
	waitFor(t, "w2 taking the lane over", func() bool {
		clock.Advance(time.Hour) // w1's lease ends, unless it renews first: then try again
		var err error
		taken, err = s.ClaimLanes(context.Background(), "w2", time.Hour, 10)
		return err == nil && len(taken) == 1
	})
	waitFor(t, "w1 letting go of the lane", func() bool { return laneCount(w1) == 0 })
	if got := len(rec.Calls()); got != 1 {
		t.Errorf("w1 sent %d times; want only its first attempt", got)
	}
	if _, err := s.Renew(context.Background(), taken[0], time.Hour); err != nil {
		t.Errorf("w2's lease after w1 stopped: %v; want it still held", err)
	}
	jobs := laneJobs(t, s, "slack:#d")
	if len(jobs) != 1 || jobs[0].Attempts != 1 {
		t.Errorf("jobs = %+v; want the job with w1's one attempt, nothing written after the takeover", jobs)
	}
}
