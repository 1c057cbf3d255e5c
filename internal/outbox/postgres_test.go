package outbox

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/internal/pgtest"
	"github.com/activitybridge/activitybridge/notifier"
)

func init() {
	extraStores = append(extraStores, namedStore{"postgres", openPostgres})
}

// openPostgres opens a postgres store on a fresh database of the package's throwaway server.
func openPostgres(t *testing.T, opts ...Option) Store {
	t.Helper()
	return openPostgresURL(t, pgtest.URL(t), opts...)
}

// openPostgresURL opens a postgres store on url, closed at the end of the test; several stores on one
// URL behave like replicas.
func openPostgresURL(t *testing.T, url string, opts ...Option) Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := OpenPostgres(ctx, url, opts...)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func sqlExec(t *testing.T, url, query string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// TestPostgresStartTogether: replicas that start at the same moment on an empty database all come up
// (the migration runs once), and a restart finds the schema current.
func TestPostgresStartTogether(t *testing.T) {
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := OpenPostgres(context.Background(), url)
			if err != nil {
				errs <- err
				return
			}
			errs <- s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("OpenPostgres of one of four replicas starting together: %v", err)
		}
	}
	s := openPostgresURL(t, url)
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "m"))
	if got := pending(t, s); got != 1 {
		t.Errorf("pending = %d; want 1", got)
	}
}

// TestPostgresLaneOrderIsCommitOrder: while replicas enqueue to one destination concurrently, a reader
// that only asks for the jobs after the last one it saw (as a worker holding the lane does) misses
// none: a job never commits behind a later-numbered one of the same lane.
func TestPostgresLaneOrderIsCommitOrder(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openPostgresURL(t, url), openPostgresURL(t, url)
	const writers, each = 8, 40
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range writers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for i := range each {
				// Two destinations per webhook, in both name orders: lanes are locked without deadlocks.
				dests := []string{"slack:#d", "discord:x"}
				if i%2 == 1 {
					dests = []string{"discord:x", "slack:#d"}
				}
				if _, err := s.Enqueue(ctx, fmt.Sprintf("w%d-%d", w, i), "pending", []Job{job(dests[0], "m"), job(dests[1], "m")}); err != nil {
					t.Errorf("Enqueue: %v", err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen := map[uint64]bool{}
	var after uint64
	read := func() {
		jobs, err := a.(laneTail).laneJobsAfter(ctx, "slack:#d", after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			seen[j.ID] = true
			after = j.ID
		}
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		read()
	}
	read()
	if len(seen) != writers*each {
		t.Errorf("the reader saw %d jobs of the lane; want all %d (a job committed behind a later one)", len(seen), writers*each)
	}
}

// TestPostgresTwoReplicas: two workers on two stores sharing a database deliver every job once.
func TestPostgresTwoReplicas(t *testing.T) {
	url := pgtest.URL(t)
	clock := newFakeClock()
	a, b := openPostgresURL(t, url, WithClock(clock)), openPostgresURL(t, url, WithClock(clock))
	rec := newRecorder(clock, nil)
	start(t, a, rec.resolveAll, clock, WithOwner("replica-a"))
	start(t, b, rec.resolveAll, clock, WithOwner("replica-b"))
	const n = 30
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		mustEnqueue(t, s, fmt.Sprintf("act%d", i), "pending",
			job("slack:#one", fmt.Sprintf("one-%d", i)), job("slack:#two", fmt.Sprintf("two-%d", i)), job("discord:three", fmt.Sprintf("three-%d", i)))
	}
	waitFor(t, "every job delivered", func() bool { return pending(t, a) == 0 })
	count := map[string]int{}
	for _, c := range rec.Calls() {
		count[c.title]++
	}
	if len(count) != 3*n {
		t.Errorf("%d distinct messages sent; want %d", len(count), 3*n)
	}
	for title, k := range count {
		if k != 1 {
			t.Errorf("%s sent %d times; want once", title, k)
		}
	}
}

// TestPostgresWakeUpAcrossReplicas: a job committed by one replica wakes the others at once (LISTEN),
// also after their listening connection was cut.
func TestPostgresWakeUpAcrossReplicas(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openPostgresURL(t, url), openPostgresURL(t, url)
	drain := func() {
		for {
			select {
			case <-b.Changes():
			case <-time.After(200 * time.Millisecond):
				return
			}
		}
	}
	woken := func(step string) {
		t.Helper()
		select {
		case <-b.Changes():
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the other replica was not woken", step)
		}
	}
	drain()
	mustEnqueue(t, a, "a1", "pending", job("slack:#d", "m"))
	woken("enqueue")

	// Cut every listening connection; the listener reconnects (and wakes its worker once for what it
	// may have missed), then hears the next job.
	sqlExec(t, url, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`)
	waitFor(t, "the listener to reconnect", func() bool {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return false
		}
		defer conn.Close(ctx)
		var n int
		_ = conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'`).Scan(&n)
		return n == 2
	})
	drain()
	mustEnqueue(t, a, "a2", "pending", job("slack:#d", "m"))
	woken("enqueue after the connection was cut")
}

// TestPostgresGlobalMetricsOnce: the queue depth, oldest pending and dead letters describe the whole
// outbox, so only one replica exports them; when it stops, another takes over.
func TestPostgresGlobalMetricsOnce(t *testing.T) {
	url := pgtest.URL(t)
	stores := []Store{openPostgresURL(t, url), openPostgresURL(t, url), openPostgresURL(t, url)}
	mustEnqueue(t, stores[0], "a1", "pending", job("slack:#d", "m"))
	var regs []*prometheus.Registry
	for _, s := range stores {
		reg := prometheus.NewRegistry()
		NewWorker(s, nil, zerolog.Nop(), reg)
		regs = append(regs, reg)
	}
	reporting := func() []int {
		var out []int
		for i, reg := range regs {
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, mf := range mfs {
				if mf.GetName() == "activitybridge_queue_depth" {
					if v := mf.GetMetric()[0].GetGauge().GetValue(); v != 1 {
						t.Errorf("replica %d reports a queue depth of %v; want 1", i, v)
					}
					out = append(out, i)
				}
			}
		}
		return out
	}
	got := reporting()
	if len(got) != 1 {
		t.Fatalf("replicas %v export the queue depth; want exactly one", got)
	}
	holder := got[0]
	if err := stores[holder].Close(); err != nil {
		t.Fatal(err)
	}
	// The others try to take the role every few seconds; run one round now instead of waiting.
	for i, s := range stores {
		if i != holder {
			s.(*pgStore).takeRole(context.Background())
		}
	}
	regs = append(regs[:holder], regs[holder+1:]...)
	if got := reporting(); len(got) != 1 {
		t.Errorf("after the holder stopped, replicas %v export the queue depth; want exactly one", got)
	}
}

// TestPostgresSecretsNeverShown: the database password appears in no error.
func TestPostgresSecretsNeverShown(t *testing.T) {
	for _, url := range []string{
		"postgres://bridge:SEKRIT@127.0.0.1:1/bridge?connect_timeout=2",
		"postgres://bridge:SEKRIT@db:notaport/bridge",
		"host=127.0.0.1 port=1 user=bridge password=SEKRIT dbname=bridge connect_timeout=2",
		"host=x password='SEKRIT",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := OpenPostgres(ctx, url)
		cancel()
		if err == nil {
			s.Close()
			t.Errorf("OpenPostgres(%q) succeeded; want an error", url)
			continue
		}
		if strings.Contains(err.Error(), "SEKRIT") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

// TestPostgresEnqueueAtomic: a job the database refuses (a destination holding a NUL byte, which
// PostgreSQL text cannot store) leaves nothing behind: no other job, no de-dup mark.
func TestPostgresEnqueueAtomic(t *testing.T) {
	s := openPostgres(t)
	ctx := context.Background()
	for range 2 { // the second time with the statements already prepared
		if n, err := s.Enqueue(ctx, "a1", "pending", []Job{job("slack:#d", "good"), job("slack:#bad\x00", "bad")}); err == nil || n != 0 {
			t.Fatalf("Enqueue = %d, %v; want an error", n, err)
		}
		if got := pending(t, s); got != 0 {
			t.Fatalf("pending after a refused Enqueue = %d; want 0", got)
		}
	}
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "good"))
}

// TestPostgresSweepKeepsPacing: a lane that has just drained and been released still carries its pacing
// state (a TAT ahead of now) and its epoch; Sweep must not drop that row before it has been idle for the
// window, or the next notice to the destination would get a fresh burst allowance the chat service does
// not give (a 429) and the epoch would start over (the same owner could claim an epoch it held before).
func TestPostgresSweepKeepsPacing(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	s := openPostgres(t, WithClock(clock))
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "one"))
	leases, err := s.ClaimLanes(ctx, "r", time.Minute, 10)
	if err != nil || len(leases) != 1 {
		t.Fatalf("ClaimLanes = %v, %v", leases, err)
	}
	l := leases[0]
	jobs, err := s.LaneJobs(ctx, "slack:#d", 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("LaneJobs = %v, %v", jobs, err)
	}
	tat := clock.Now().Add(5 * time.Second)
	l.TAT = tat
	if err := s.Complete(ctx, l, jobs[0], notifier.Ref{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	mustEnqueue(t, s, "a2", "pending", job("slack:#d", "two"))
	again, err := s.ClaimLanes(ctx, "r", time.Minute, 10)
	if err != nil || len(again) != 1 {
		t.Fatalf("ClaimLanes = %v, %v", again, err)
	}
	if d := again[0].TAT.Sub(tat); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("TAT after a sweep = %v; want %v (the pacing state kept)", again[0].TAT, tat)
	}
	if again[0].Epoch <= l.Epoch {
		t.Errorf("epoch after a sweep = %d; want more than %d", again[0].Epoch, l.Epoch)
	}

	// Idle for less than the window (tat past): kept, the epoch keeps growing. Idle for the window: gone.
	l = again[0]
	jobs, err = s.LaneJobs(ctx, "slack:#d", 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("LaneJobs = %v, %v", jobs, err)
	}
	if err := s.Complete(ctx, l, jobs[0], notifier.Ref{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := laneRows(t, s); n != 1 {
		t.Errorf("%d lane rows after a sweep an hour later; want 1 (kept)", n)
	}
	clock.Advance(DefaultDedupWindow)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := laneRows(t, s); n != 0 {
		t.Errorf("%d lane rows after a sweep a window later; want 0", n)
	}
	// The lane made anew by the next notice never hands out an epoch an old lease carried.
	mustEnqueue(t, s, "a3", "pending", job("slack:#d", "three"))
	if anew := claimLane(t, s, "slack:#d"); anew.Epoch <= l.Epoch {
		t.Errorf("epoch of the lane made anew = %d; want above %d, the last one before the sweep", anew.Epoch, l.Epoch)
	}
}

func laneRows(t *testing.T, s Store) int {
	t.Helper()
	var n int
	if err := s.(*pgStore).pool.QueryRow(context.Background(), `SELECT count(*) FROM activitybridge_lanes`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPostgresPingAfterOutage: Ping (what /readyz asks first) fails while the database cannot be
// reached, and succeeds again once it can, without a restart of the store: the pool replaces the
// connections the outage broke.
func TestPostgresPingAfterOutage(t *testing.T) {
	url := pgtest.URL(t)
	s := openPostgresURL(t, url)
	if err := s.Ping(); err != nil {
		t.Fatalf("Ping before the outage: %v", err)
	}
	db := strings.TrimPrefix(url[:strings.Index(url, "?")], "postgres:///")
	admin := strings.Replace(url, "postgres:///"+db+"?", "postgres:///postgres?", 1)
	sqlExec(t, admin, `ALTER DATABASE `+db+` ALLOW_CONNECTIONS false`)
	sqlExec(t, admin, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, db)
	failed := false
	for range 3 { // the first Ping may still find a connection the server has not closed yet
		if s.Ping() != nil {
			failed = true
			break
		}
	}
	if !failed {
		t.Error("Ping succeeded while the database refused connections")
	}
	sqlExec(t, admin, `ALTER DATABASE `+db+` ALLOW_CONNECTIONS true`)
	var err error
	for range 3 { // a connection broken by the outage may fail once more before the pool drops it
		if err = s.Ping(); err == nil {
			break
		}
	}
	if err != nil {
		t.Errorf("Ping after the outage: %v", err)
	}
}
