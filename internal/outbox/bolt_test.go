package outbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/notifier"
)

// withNoSync skips fsync: for tests about file layout, not durability.
func withNoSync() Option { return func(c *storeConfig) { c.noSync = true } }

func openBolt(t testing.TB, path string, opts ...Option) Store {
	t.Helper()
	s, err := OpenBolt(path, opts...)
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	return s
}

func TestBoltLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", DefaultFileName)
	s := openBolt(t, path)
	defer s.Close()
	_, err := OpenBolt(path, WithLockTimeout(20*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "locked by another process") || !strings.Contains(err.Error(), "BRIDGE_DATA_DIR") {
		t.Errorf("second OpenBolt = %v; want an error saying the file is locked by another process", err)
	}
}

func TestBoltGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), DefaultFileName)
	s := openBolt(t, path)
	const n = 200
	before := s.(*boltStore).commits.Load()
	var wg sync.WaitGroup
	gate := make(chan struct{})
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			q, err := s.Enqueue(context.Background(), fmt.Sprintf("act%d", i), "pending", []Job{job("slack:#d", "m")})
			if err == nil && q != 1 {
				err = fmt.Errorf("queued %d; want 1", q)
			}
			errs <- err
		}()
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
	}
	commits := s.(*boltStore).commits.Load() - before
	t.Logf("%d concurrent Enqueue calls took %d commits", n, commits)
	if commits >= n/4 {
		t.Errorf("%d concurrent Enqueue calls took %d commits; want them to share commits (< %d)", n, commits, n/4)
	}
	// Persisted before returning: a reopened file holds every job.
	wantPendingAfterReopen(t, s, path, n)
}

// wantPendingAfterReopen closes s, opens the file at path again and checks that it holds n pending jobs.
func wantPendingAfterReopen(t *testing.T, s Store, path string, n int) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openBolt(t, path)
	defer s.Close()
	if got := pending(t, s); got != n {
		t.Errorf("pending after reopen = %d; want %d", got, n)
	}
}

// A write that fails in a shared commit fails alone: the writes it was grouped with still commit.
func TestBoltGroupCommitIsolatesFailures(t *testing.T) {
	path := filepath.Join(t.TempDir(), DefaultFileName)
	s := openBolt(t, path)
	const n = 100
	mustEnqueue(t, s, "a0", "pending", job("slack:#x", "m"))
	l := claimLane(t, s, "slack:#x")
	var wg sync.WaitGroup
	gate := make(chan struct{})
	enqueueErrs, updateErrs := make(chan error, n), make(chan error, n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-gate
			_, err := s.Enqueue(context.Background(), fmt.Sprintf("act%d", i), "pending", []Job{job("slack:#d", "m")})
			enqueueErrs <- err
		}()
		go func() {
			defer wg.Done()
			<-gate
			updateErrs <- s.Update(context.Background(), l, Job{ID: uint64(1_000_000 + i), Dest: "slack:#x"}) // no such job
		}()
	}
	close(gate)
	wg.Wait()
	close(enqueueErrs)
	close(updateErrs)
	for err := range enqueueErrs {
		if err != nil {
			t.Errorf("Enqueue grouped with failing writes: %v", err)
		}
	}
	for err := range updateErrs {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Update of a missing job = %v; want ErrNotFound", err)
		}
	}
	wantPendingAfterReopen(t, s, path, n+1)
}

// Writes after Close fail with an error instead of blocking.
func TestBoltWriteAfterClose(t *testing.T) {
	s := openBolt(t, filepath.Join(t.TempDir(), DefaultFileName))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(context.Background(), "a1", "pending", []Job{job("slack:#d", "m")}); err == nil {
		t.Error("Enqueue after Close succeeded; want an error")
	}
}

func TestBoltRestartResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), DefaultFileName)
	clock := newFakeClock()
	s := openBolt(t, path, WithClock(clock))
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "a1 pending"), job("discord:prod", "a1 pending"))
	mustEnqueue(t, s, "a1", "complete", job("slack:#d", "a1 complete"))

	// Slack fails, Discord works: only the Slack lane is left with a retry time when the worker stops.
	failing := newRecorder(clock, func(c call, _ int) (notifier.Ref, error) {
		if c.dest == "slack:#d" {
			return notifier.Ref{}, errFlaky
		}
		return notifier.Ref{}, nil
	})
	r := start(t, s, failing.resolveAll, clock)
	waitFor(t, "two failed attempts", func() bool {
		jobs := laneJobs(t, s, "slack:#d")
		return len(jobs) > 0 && jobs[0].ID == 1 && jobs[0].Attempts >= 2
	})
	r.stop(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openBolt(t, path, WithClock(clock))
	defer s.Close()
	jobs := laneJobs(t, s, "slack:#d")
	ok := len(jobs) > 0 && jobs[0].ID == 1
	var err error
	before := jobs[0]
	if !ok || before.Attempts < 2 || before.NextAt.IsZero() || before.LastError != errFlaky.Error() {
		t.Fatalf("job 1 after reopen = %+v, %v, %v; want its attempts, next attempt time and last error kept", before, ok, err)
	}
	if got := pending(t, s); got != 2 {
		t.Fatalf("pending after reopen = %d; want the 2 Slack jobs", got)
	}
	resumeAt := clock.Now()
	sleepsBefore := len(clock.Sleeps())
	ok2 := newRecorder(clock, nil)
	start(t, s, ok2.resolveAll, clock)
	waitFor(t, "all jobs delivered after the restart", func() bool { return pending(t, s) == 0 })

	var slack []string
	for _, c := range ok2.Calls() {
		if c.dest == "slack:#d" {
			slack = append(slack, c.title+"|"+c.prev.ID)
			if c.title == "a1 pending" && c.at.Before(before.NextAt) {
				t.Errorf("job 1 retried at %v; want no earlier than its stored next attempt %v", c.at, before.NextAt)
			}
		}
	}
	if got, want := strings.Join(slack, ", "), "a1 pending|, a1 complete|ts-a1 pending"; got != want {
		t.Errorf("slack sends after restart = %s; want %s", got, want)
	}
	wait := max(before.NextAt.Sub(resumeAt), 0)
	if got, want := fmt.Sprint(clock.Sleeps()[sleepsBefore:]), fmt.Sprint([]time.Duration{wait}); wait > 0 && got != want {
		t.Errorf("after restart the worker slept %s; want %s, up to the stored next attempt", got, want)
	}
}

// TestBoltFileSizeFlat delivers 100,000 notices with a one-minute window: swept refs and de-dup
// marks free their pages for reuse, so the file stops growing.
func TestBoltFileSizeFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("delivers 100,000 notices")
	}
	path := filepath.Join(t.TempDir(), DefaultFileName)
	clock := newFakeClock()
	s := openBolt(t, path, WithClock(clock), WithDedupWindow(time.Minute), withNoSync())
	defer s.Close()
	ctx := context.Background()
	msg := notifier.Message{Title: "main deployed", Text: strings.Repeat("Cloé pushed 1 commit to main. ", 40)}
	const rounds, perRound, workers = 100, 1000, 100
	var size20 int64
	var seq atomic.Int64
	for round := 1; round <= rounds; round++ {
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perRound / workers {
					id := fmt.Sprintf("act-%08d", seq.Add(1))
					if _, err := s.Enqueue(ctx, id, "complete", []Job{{Dest: "slack:#deploys", Msg: msg}}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		jobs, err := s.LaneJobs(ctx, "slack:#deploys", 2*perRound)
		if err != nil || len(jobs) != perRound {
			t.Fatalf("LaneJobs = %d jobs, %v; want %d", len(jobs), err, perRound)
		}
		l := claimLane(t, s, "slack:#deploys")
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < len(jobs); i += workers {
					if err := s.Complete(ctx, l, jobs[i], notifier.Ref{Channel: "C0123ABCD", ID: "1670000000.000100"}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		clock.Advance(10 * time.Second)
		if _, err := s.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if round == 20 {
			size20 = fileSize(t, path)
		}
	}
	size100 := fileSize(t, path)
	t.Logf("file size after 20,000 notices: %d bytes, after 100,000: %d bytes", size20, size100)
	if float64(size100) > 1.5*float64(size20) {
		t.Errorf("file grew from %d to %d bytes between 20,000 and 100,000 notices; want it flat (within 1.5x)", size20, size100)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func BenchmarkEnqueue(b *testing.B) {
	s := openBolt(b, filepath.Join(b.TempDir(), DefaultFileName))
	defer s.Close()
	msg := notifier.Message{Title: "main deployed", Text: strings.Repeat("x", 14<<10)}
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetBytes(14 << 10)
	b.SetParallelism(16) // concurrent webhook handlers, sharing commits
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("act-%d", seq.Add(1))
			if _, err := s.Enqueue(context.Background(), id, "pending", []Job{{Dest: "slack:#d", Msg: msg}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
