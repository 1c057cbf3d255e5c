package outbox

import (
	"context"
	"errors"
	"sync/atomic"
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

// renewFails is a store whose Renew fails with a transient error (the database unreachable from this
// replica) while fail is set.
type renewFails struct {
	Store
	fail  atomic.Bool
	tries atomic.Int32
}

func (s *renewFails) Renew(ctx context.Context, l Lease, leaseFor time.Duration) (Lease, error) {
	s.tries.Add(1)
	if s.fail.Load() {
		return Lease{}, errors.New("connection refused")
	}
	return s.Store.Renew(ctx, l, leaseFor)
}

// TestNoSendOnAnEndedLease: a worker that cannot renew its lease (the store is unreachable, not a
// takeover) sends nothing on the lane once the lease has ended, since another replica may hold it by
// then; it sends again once a renewal succeeds.
func TestNoSendOnAnEndedLease(t *testing.T) {
	clock := newFakeClock()
	s := &renewFails{Store: NewMemory(WithClock(clock))}
	defer s.Close()
	s.fail.Store(true)
	rec := newRecorder(clock, func(c call, n int) (notifier.Ref, error) {
		if n == 0 {
			return notifier.Ref{}, errFlaky
		}
		return notifier.Ref{}, nil
	})
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "m"))
	start(t, s, rec.resolveAll, clock, WithLease(30*time.Second), WithBackoff(time.Minute, time.Minute),
		WithPollInterval(time.Hour))
	// The first attempt fails; the retry comes after the lease has ended, and renewing it fails.
	waitFor(t, "renewals failing after the first attempt", func() bool { return s.tries.Load() >= 3 })
	if got := len(rec.Calls()); got != 1 {
		t.Fatalf("%d sends while the lease could not be renewed; want only the first attempt", got)
	}
	s.fail.Store(false)
	waitFor(t, "the retry once the lease is renewed", func() bool { return len(rec.Calls()) == 2 })
}
