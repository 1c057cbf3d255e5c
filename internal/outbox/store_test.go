package outbox

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/notifier"
)

// TestStores runs the whole suite (store and worker behaviour) against both stores.
func TestStores(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) { testStore(t, st.open) })
	}
}

func testStore(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	t.Run("enqueue and de-dup", func(t *testing.T) { testEnqueueDedup(t, open) })
	t.Run("atomic enqueue", func(t *testing.T) { testAtomicEnqueue(t, open) })
	t.Run("what a message shows", func(t *testing.T) { testShown(t, open) })
	t.Run("lanes and leases", func(t *testing.T) { testLanes(t, open) })
	t.Run("dead letters and replay", func(t *testing.T) { testDeadLetters(t, open) })
	t.Run("closed", func(t *testing.T) { testClosed(t, open) })
	t.Run("worker", func(t *testing.T) { testWorker(t, open) })
}

func testEnqueueDedup(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	clock := newFakeClock()
	s := open(t, WithClock(clock), WithDedupWindow(time.Hour))
	ctx := context.Background()
	steps := []struct {
		name            string
		advance         time.Duration
		activity, state string
		jobs            int
		want            int
	}{
		{"first delivery", 0, "a1", "pending", 2, 2},
		{"same activity and state again", time.Minute, "a1", "pending", 2, 0},
		{"next state of the same activity", 0, "a1", "complete", 1, 1},
		{"another activity", 0, "a2", "pending", 1, 1},
		{"duplicate just inside the window", 58 * time.Minute, "a1", "pending", 2, 0},
		{"duplicate after the window", 2 * time.Minute, "a1", "pending", 1, 1},
	}
	total := 0
	for _, st := range steps {
		clock.Advance(st.advance)
		jobs := make([]Job, st.jobs)
		for i := range jobs {
			jobs[i] = job("slack:#d"+string(rune('0'+i)), st.name)
		}
		got, err := s.Enqueue(ctx, st.activity, st.state, jobs)
		if err != nil || got != st.want {
			t.Fatalf("%s: Enqueue = %d, %v; want %d, nil", st.name, got, err, st.want)
		}
		total += got
	}
	list := laneJobs(t, s, "slack:#d0", "slack:#d1")
	if len(list) != total {
		t.Fatalf("LaneJobs returned %d jobs; want %d", len(list), total)
	}
	for i, j := range list {
		if i > 0 && j.ID <= list[i-1].ID {
			t.Errorf("job %d has ID %d after ID %d; want increasing", i, j.ID, list[i-1].ID)
		}
		if j.Activity == "" || j.State == "" || j.Received.IsZero() {
			t.Errorf("job %d = %+v; want activity, state and received set", i, j)
		}
	}
	if got, want := list[0].Received, t0; !got.Equal(want) {
		t.Errorf("first job received %v; want the clock's %v", got, want)
	}
	if got, want := list[0].Msg.Text, "body of first delivery"; got != want {
		t.Errorf("message text after a round trip = %q; want %q", got, want)
	}
	d0 := laneJobs(t, s, "slack:#d0")
	first, err := s.LaneJobs(ctx, "slack:#d0", 2)
	if err != nil || len(first) != 2 || first[0].ID != d0[0].ID || first[1].ID != d0[1].ID {
		t.Errorf("LaneJobs(slack:#d0, 2) = %v, %v; want its first two jobs %d and %d", first, err, d0[0].ID, d0[1].ID)
	}
	for _, j := range d0 {
		if j.Dest != "slack:#d0" {
			t.Errorf("LaneJobs(slack:#d0) holds a job of %s", j.Dest)
		}
	}
	if got := pending(t, s); got != total {
		t.Errorf("Stats.Pending = %d; want %d", got, total)
	}
}

func testAtomicEnqueue(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	s := open(t)
	ctx := context.Background()
	bad := job("discord:prod", "bad")
	bad.Msg.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // JSON cannot encode years past 9999
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		jobs []Job
	}{
		{"second job cannot be stored", ctx, []Job{job("slack:#d", "good"), bad}},
		{"context cancelled", cancelled, []Job{job("slack:#d", "good")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := s.Enqueue(tt.ctx, "a1", "pending", tt.jobs)
			if err == nil || n != 0 {
				t.Fatalf("Enqueue = %d, %v; want 0 and an error", n, err)
			}
			if got := pending(t, s); got != 0 {
				t.Errorf("pending after a failed Enqueue = %d; want 0", got)
			}
		})
	}
	// No de-dup mark was left behind either: the retry by the sender goes through.
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "good"), job("discord:prod", "good"))
}

func testShown(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	clock := newFakeClock()
	s := open(t, WithClock(clock), WithDedupWindow(time.Hour))
	ctx := context.Background()
	const dest = "slack:#d"
	r1 := notifier.Ref{Channel: "C1", ID: "111.222"}
	check := func(step string, activity, dest string, want Shown) {
		t.Helper()
		got, err := s.Shown(ctx, activity, dest)
		if err != nil || got != want {
			t.Errorf("%s: Shown(%s, %s) = %+v, %v; want %+v", step, activity, dest, got, err, want)
		}
	}
	check("before anything", "a1", dest, Shown{})
	// Each step enqueues one job of a1 in state and completes it with ref.
	steps := []struct {
		name  string
		state string
		ref   notifier.Ref
		want  Shown
	}{
		{"post", "pending", r1, Shown{r1, 1}},
		{"an edit that returned no ref keeps the ref", "complete", notifier.Ref{}, Shown{r1, 3}},
		{"a late lower state never lowers the rank", "in_progress", notifier.Ref{}, Shown{r1, 3}},
	}
	for _, st := range steps {
		mustEnqueue(t, s, "a1", st.state, job(dest, st.name))
		l := claimLane(t, s, dest)
		jobs := laneJobs(t, s, dest)
		if err := s.Complete(ctx, l, jobs[0], st.ref); err != nil {
			t.Fatalf("%s: Complete: %v", st.name, err)
		}
		if err := s.Release(ctx, l); err != nil {
			t.Fatal(err)
		}
		if got := pending(t, s); got != 0 {
			t.Errorf("%s: pending after Complete = %d; want 0", st.name, got)
		}
		check(st.name, "a1", dest, st.want)
	}
	check("other destination", "a1", "discord:prod", Shown{})
	check("other activity", "a2", dest, Shown{})

	// Forget (the message was deleted) keeps the rank.
	mustEnqueue(t, s, "a9", "pending", job(dest, "lane"))
	l := claimLane(t, s, dest)
	if err := s.Forget(ctx, l, "a1", dest); err != nil {
		t.Fatal(err)
	}
	check("after Forget", "a1", dest, Shown{Rank: 3})
	// An incoming webhook (no ref) still records the rank.
	mustEnqueue(t, s, "a3", "complete", job(dest, "hook"))
	for _, j := range laneJobs(t, s, dest) {
		if err := s.Complete(ctx, l, j, notifier.Ref{}); err != nil {
			t.Fatal(err)
		}
	}
	check("zero-ref complete", "a3", dest, Shown{Rank: 3})

	r2 := notifier.Ref{Channel: "C1", ID: "333.444"}
	clock.Advance(30 * time.Minute)
	mustEnqueue(t, s, "a2", "in_progress", job(dest, "a2"))
	if err := s.Complete(ctx, l, laneJobs(t, s, dest)[0], r2); err != nil {
		t.Fatal(err)
	}
	clock.Advance(31 * time.Minute) // a1's and a3's entries are 61 minutes old, a2's 31
	check("expired before the sweep", "a1", dest, Shown{})
	check("still fresh", "a2", dest, Shown{r2, 2})
	n, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// a1's entry and its three de-dup marks, a3's and a9's entries and marks go; a2's stay.
	if n != 8 {
		t.Errorf("Sweep removed %d entries; want 8", n)
	}
	check("after the sweep", "a2", dest, Shown{r2, 2})
	mustEnqueue(t, s, "a1", "pending", job(dest, "post again"))
}

func testLanes(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	clock := newFakeClock()
	s := open(t, WithClock(clock))
	ctx := context.Background()
	mustEnqueue(t, s, "a1", "pending", job("slack:#a", "a1"))
	mustEnqueue(t, s, "a2", "pending", job("slack:#b", "a2"))
	mustEnqueue(t, s, "a3", "pending", job("slack:#a", "a3"))
	claim := func(owner string, max int) []Lease {
		t.Helper()
		got, err := s.ClaimLanes(ctx, owner, time.Minute, max)
		if err != nil {
			t.Fatalf("ClaimLanes(%s): %v", owner, err)
		}
		return got
	}
	dests := func(ls []Lease) string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Dest)
		}
		return strings.Join(out, ",")
	}

	w1 := claim("w1", 1)
	if dests(w1) != "slack:#a" || w1[0].Owner != "w1" || w1[0].Epoch == 0 || !w1[0].Until.Equal(t0.Add(time.Minute)) {
		t.Fatalf("first claim = %+v; want the oldest lane slack:#a for w1 until %v, with an epoch", w1, t0.Add(time.Minute))
	}
	if got := dests(claim("w1", 10)); got != "slack:#b" {
		t.Errorf("second claim of w1 = %s; want slack:#b only (it holds slack:#a)", got)
	}
	if got := claim("w2", 10); len(got) != 0 {
		t.Errorf("claim of w2 while w1 holds every lane = %+v; want none", got)
	}
	a := laneJobs(t, s, "slack:#a")
	if got, _ := s.LaneJobs(ctx, "slack:#a", 10); len(got) != 2 || got[0].Msg.Title != "a1" || got[1].Msg.Title != "a3" {
		t.Errorf("LaneJobs(slack:#a) = %+v; want a1 then a3", got)
	}

	// The pacing state travels with the lane.
	l1 := w1[0]
	l1.TAT = t0.Add(42 * time.Second)
	l1, err := s.Renew(ctx, l1, time.Minute)
	if err != nil || !l1.Until.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Renew = %+v, %v; want the lease until %v", l1, err, t0.Add(time.Minute))
	}

	clock.Advance(2 * time.Minute) // w1's leases ended
	w2 := claim("w2", 10)
	if dests(w2) != "slack:#a,slack:#b" {
		t.Fatalf("claim of w2 after w1's leases ended = %s; want both lanes", dests(w2))
	}
	if w2[0].Epoch <= l1.Epoch || !w2[0].TAT.Equal(t0.Add(42*time.Second)) {
		t.Errorf("lease taken over = %+v; want a higher epoch than %d and w1's TAT %v", w2[0], l1.Epoch, t0.Add(42*time.Second))
	}
	// Every write of w1 on the lane is fenced off now.
	fenced := []struct {
		name string
		do   func(l Lease) error
	}{
		{"Update", func(l Lease) error { return s.Update(ctx, l, a[0]) }},
		{"Complete", func(l Lease) error { return s.Complete(ctx, l, a[0], notifier.Ref{ID: "x"}) }},
		{"Kill", func(l Lease) error { _, err := s.Kill(ctx, l, a[0], "boom"); return err }},
		{"Forget", func(l Lease) error { return s.Forget(ctx, l, "a1", "slack:#a") }},
		{"Renew", func(l Lease) error { _, err := s.Renew(ctx, l, time.Minute); return err }},
	}
	for _, f := range fenced {
		if err := f.do(l1); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("%s under a lease taken over = %v; want ErrLeaseLost", f.name, err)
		}
		if err := f.do(w2[1]); !errors.Is(err, ErrLeaseLost) && f.name != "Renew" && f.name != "Forget" {
			t.Errorf("%s of a slack:#a job under the lease of slack:#b = %v; want ErrLeaseLost", f.name, err)
		}
	}
	if got := pending(t, s); got != 3 {
		t.Errorf("pending after fenced-off writes = %d; want 3 (nothing written)", got)
	}
	if err := s.Release(ctx, l1); err != nil {
		t.Errorf("Release of a lost lease = %v; want nil", err)
	}
	if err := s.Complete(ctx, w2[0], a[0], notifier.Ref{ID: "x"}); err != nil {
		t.Fatalf("Complete by the new holder: %v", err)
	}
	if err := s.Release(ctx, w2[0]); err != nil {
		t.Fatal(err)
	}
	if got := dests(claim("w1", 10)); got != "slack:#a" {
		t.Errorf("claim after w2 released slack:#a = %s; want it at once", got)
	}
	if err := s.Complete(ctx, w2[0], a[1], notifier.Ref{}); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Complete under a released lease = %v; want ErrLeaseLost", err)
	}
	// A lane without pending jobs is not claimed.
	b := laneJobs(t, s, "slack:#b")
	if err := s.Complete(ctx, w2[1], b[0], notifier.Ref{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, w2[1]); err != nil {
		t.Fatal(err)
	}
	if got := claim("w3", 10); len(got) != 0 {
		t.Errorf("claim with only an empty lane free = %+v; want none", got)
	}
}

func testDeadLetters(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	clock := newFakeClock()
	s := open(t, WithClock(clock), WithDeadLetterRetention(48*time.Hour))
	ctx := context.Background()
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "one"), job("slack:#d", "two"), job("slack:#d", "three"))
	jobs := laneJobs(t, s, "slack:#d")
	l := claimLane(t, s, "slack:#d")
	for i, j := range jobs[:2] {
		j.Attempts, j.LastError, j.NextAt = 5, "boom", clock.Now().Add(time.Minute)
		if _, err := s.Kill(ctx, l, j, "permanent: boom"); err != nil {
			t.Fatalf("Kill %d: %v", i, err)
		}
		clock.Advance(time.Hour)
	}
	if _, err := s.Kill(ctx, l, jobs[0], "again"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Kill of a job already dead = %v; want ErrNotFound", err)
	}
	list, err := s.DeadLetters(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("DeadLetters = %d, %v; want 2", len(list), err)
	}
	if d := list[0]; d.Job.ID != jobs[0].ID || d.Reason != "permanent: boom" || d.Job.Attempts != 5 || !d.DeadAt.Equal(t0) || d.Job.Msg.Title != "one" {
		t.Errorf("dead letter = %+v; want job %d, its reason, attempts and message, dead at %v", d, jobs[0].ID, t0)
	}
	if st, _ := s.Stats(ctx); st.Pending != 1 || st.DeadLetters != 2 {
		t.Errorf("Stats = %+v; want 1 pending, 2 dead", st)
	}

	replayed, err := s.Replay(ctx, jobs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if replayed.ID <= jobs[2].ID || replayed.Attempts != 0 || !replayed.NextAt.IsZero() || replayed.LastError != "" || !replayed.Received.Equal(clock.Now()) {
		t.Errorf("replayed job = %+v; want a new ID after %d, no attempts, received now (%v)", replayed, jobs[2].ID, clock.Now())
	}
	if got := laneJobs(t, s, "slack:#d"); len(got) != 2 || got[1].ID != replayed.ID || got[1].Msg.Title != "one" {
		t.Errorf("lane after replay = %+v; want the message back in the queue, last", got)
	}
	if _, err := s.Replay(ctx, jobs[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Replay = %v; want ErrNotFound", err)
	}
	if n, err := s.ReplayAll(ctx); err != nil || n != 1 {
		t.Errorf("ReplayAll = %d, %v; want 1", n, err)
	}
	if st, _ := s.Stats(ctx); st.Pending != 3 || st.DeadLetters != 0 {
		t.Errorf("Stats after replay = %+v; want 3 pending, 0 dead", st)
	}

	// Retention: a dead letter older than 48h is swept.
	j := laneJobs(t, s, "slack:#d")[1]
	if _, err := s.Kill(ctx, l, j, "old"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(49 * time.Hour)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := deadCount(t, s); got != 0 {
		t.Errorf("dead letters after retention = %d; want 0", got)
	}
}

func testClosed(t *testing.T, open func(t *testing.T, opts ...Option) Store) {
	s := open(t)
	if err := s.Ping(); err != nil {
		t.Fatalf("Ping on an open store = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(); err == nil {
		t.Error("Ping on a closed store = nil; want an error (readyz must fail)")
	}
	if _, err := s.Enqueue(context.Background(), "a", "s", []Job{job("console", "x")}); err == nil {
		t.Error("Enqueue on a closed store = nil error; want one (the receiver answers 503)")
	}
}
