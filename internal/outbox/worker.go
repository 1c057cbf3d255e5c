package outbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/notifier"
)

// Jitter picks how a retry's backoff is randomised.
type Jitter int

const (
	// JitterEqual waits half the backoff plus a random part of the other half (never retries at once).
	JitterEqual Jitter = iota
	// JitterFull waits a random time between zero and the backoff.
	JitterFull
)

// Defaults of the worker options.
const (
	DefaultMaxAge        = 24 * time.Hour
	DefaultBackoffBase   = time.Second
	DefaultBackoffMax    = 5 * time.Minute
	DefaultDrainTimeout  = 10 * time.Second
	DefaultSendTimeout   = 30 * time.Second
	DefaultConcurrency   = 8
	DefaultSweepInterval = 10 * time.Minute
	DefaultPollInterval  = 5 * time.Second
	DefaultLease         = 15 * time.Second
)

// Metric reasons (the reason label of activitybridge_deliveries_total).
const (
	reasonOK            = "ok"
	reasonPermanent     = "permanent"
	reasonRetryAfter    = "retry_after"
	reasonTransient     = "transient"
	reasonMaxAge        = "max_age"
	reasonNotConfigured = "not_configured"
	reasonGone          = "gone"
	reasonSuperseded    = "superseded"
	reasonStore         = "store"
)

// outcomeSkipped is the outcome label of a job finished without sending: the message already shows
// its state or a later one (reason "superseded").
const outcomeSkipped = "skipped"

// ReasonNotConfigured is the dead-letter reason of a job whose destination the resolver does not know.
const ReasonNotConfigured = "destination not configured"

// loadPage is how many pending jobs of a lane the worker reads from the store at a time.
const loadPage = 512

// maxLanes bounds the lanes one worker holds at once.
const maxLanes = 1024

// maxRepeats is how many times the same store error (not I/O) may answer the recording of a finished
// job before the job becomes a dead letter instead.
const maxRepeats = 3

// maxLogValue bounds every value the worker logs (and the errors it keeps on a job), so that no value
// a sender chose can blow up the log.
const maxLogValue = 256

type workerConfig struct {
	clock       Clock
	maxAge      time.Duration
	base, max   time.Duration
	jitter      Jitter
	drain       time.Duration
	sendTimeout time.Duration
	concurrency int
	sweepEvery  time.Duration
	pollEvery   time.Duration
	owner       string
	lease       time.Duration
	kinds       []string
}

// WorkerOption configures a Worker.
type WorkerOption func(*workerConfig)

// WithMaxAge sets how old (since Received) a job may get before it becomes a dead letter instead of
// being tried again (BRIDGE_MAX_AGE, default 24h); 0 never gives up on age. Every queued job is
// checked, not only the next one of its lane.
func WithMaxAge(d time.Duration) WorkerOption { return func(c *workerConfig) { c.maxAge = d } }

// WithBackoff sets the first retry delay and its cap (default 1s and 5m); each retry doubles it.
func WithBackoff(base, maxDelay time.Duration) WorkerOption {
	return func(c *workerConfig) { c.base, c.max = base, maxDelay }
}

// WithJitter picks the backoff jitter (default JitterEqual).
func WithJitter(j Jitter) WorkerOption { return func(c *workerConfig) { c.jitter = j } }

// WithDrainTimeout bounds how long Run waits for in-flight sends after its context is done (default
// 10s); then their contexts are cancelled.
func WithDrainTimeout(d time.Duration) WorkerOption { return func(c *workerConfig) { c.drain = d } }

// WithSendTimeout bounds each single send (default 30s).
func WithSendTimeout(d time.Duration) WorkerOption {
	return func(c *workerConfig) { c.sendTimeout = d }
}

// WithConcurrency bounds how many sends run at once across all destinations (default 8).
func WithConcurrency(n int) WorkerOption { return func(c *workerConfig) { c.concurrency = n } }

// WithSweepInterval sets how often expired refs (what is shown), de-dup marks and old dead letters are removed
// (default 10m; also once when Run starts).
func WithSweepInterval(d time.Duration) WorkerOption {
	return func(c *workerConfig) { c.sweepEvery = d }
}

// WithPollInterval sets how often the worker looks for pending jobs when nothing woke it (default 5s);
// a backstop only, Store.Changes and Notify wake it at once.
func WithPollInterval(d time.Duration) WorkerOption {
	return func(c *workerConfig) { c.pollEvery = d }
}

// WithOwner names the worker in the lane leases it takes (default: host name, process ID and a random
// suffix). Two workers sharing a store must have different owners.
func WithOwner(owner string) WorkerOption { return func(c *workerConfig) { c.owner = owner } }

// WithLease sets how long a lane lease lasts unless renewed (default 15s); the worker renews it every
// third of that, and stops sending on a lane at once when a renewal or a write finds it lost.
func WithLease(d time.Duration) WorkerOption { return func(c *workerConfig) { c.lease = d } }

// WithKinds lists the destination kinds configured (e.g. "slack", "discord"), so that their retry
// counters are exported, at 0, from the start.
func WithKinds(kinds ...string) WorkerOption {
	return func(c *workerConfig) { c.kinds = append(c.kinds, kinds...) }
}

// WithWorkerClock sets the worker's time source for ages, backoff, retry-after waits and pacing.
// Drain and send timeouts always use the wall clock.
func WithWorkerClock(c Clock) WorkerOption { return func(w *workerConfig) { w.clock = c } }

// Worker delivers the pending jobs of a Store. Each destination is a lane that the worker holds under a
// lease while it delivers it. Inside a lane, the jobs of one activity go strictly in order (an edit
// never overtakes its post, a later state never overtakes an earlier one) while the activities are
// independent: a job waiting for a retry delays only the later jobs of its own activity. Sends to one
// destination are paced by its notifier's Pace; lanes of different destinations run in parallel, at
// most WithConcurrency sends at once. A job whose state ranks at or below what its message already
// shows is finished without sending.
type Worker struct {
	store   Store
	resolve func(dest string) (notifier.Notifier, error)
	log     zerolog.Logger
	cfg     workerConfig
	m       *metrics
	notify  chan struct{}
	sem     chan struct{}
	running atomic.Bool

	mu  sync.Mutex
	cur *run // the Run in progress, for tests
}

// NewWorker returns a Worker delivering the jobs of s through the notifiers resolve returns per
// destination (an error means the destination is no longer configured: the job becomes a dead
// letter). Its metrics are registered on reg (nil registers nothing); NewWorker panics when they are
// registered there already.
func NewWorker(s Store, resolve func(dest string) (notifier.Notifier, error), log zerolog.Logger, reg prometheus.Registerer, opts ...WorkerOption) *Worker {
	cfg := workerConfig{
		clock:       SystemClock(),
		maxAge:      DefaultMaxAge,
		base:        DefaultBackoffBase,
		max:         DefaultBackoffMax,
		drain:       DefaultDrainTimeout,
		sendTimeout: DefaultSendTimeout,
		concurrency: DefaultConcurrency,
		sweepEvery:  DefaultSweepInterval,
		pollEvery:   DefaultPollInterval,
		lease:       DefaultLease,
	}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.concurrency = max(cfg.concurrency, 1)
	if cfg.base <= 0 {
		cfg.base = DefaultBackoffBase
	}
	cfg.max = max(cfg.max, cfg.base)
	// Tickers and timeouts need positive durations.
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&cfg.sweepEvery, DefaultSweepInterval}, {&cfg.pollEvery, DefaultPollInterval}, {&cfg.sendTimeout, DefaultSendTimeout}, {&cfg.lease, DefaultLease}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if cfg.owner == "" {
		cfg.owner = defaultOwner()
	}
	w := &Worker{
		store:   s,
		resolve: resolve,
		log:     log.With().Str("component", "outbox").Logger(),
		cfg:     cfg,
		notify:  make(chan struct{}, 1),
		sem:     make(chan struct{}, cfg.concurrency),
	}
	w.m = newMetrics(w, reg)
	return w
}

// Notify wakes the worker to pick up newly enqueued jobs. The stores also signal their own commits
// (Store.Changes), so calling Notify is optional; it never blocks.
func (w *Worker) Notify() { signal(w.notify) }

// Run delivers jobs until ctx is done. Then it takes no new sends, lets in-flight sends finish (at
// most the drain timeout, after which their contexts are cancelled), leaves every undelivered job in
// the store and returns nil. Run may not be called twice at once.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("outbox: worker is already running")
	}
	defer w.running.Store(false)
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	r := &run{w: w, ctx: ctx, hard: hard, lanes: map[string]*lane{}, ended: make(chan struct{}, 1)}
	w.mu.Lock()
	w.cur = r
	w.mu.Unlock()

	w.sweep(ctx)
	sweep := time.NewTicker(w.cfg.sweepEvery)
	defer sweep.Stop()
	poll := time.NewTicker(w.cfg.pollEvery)
	defer poll.Stop()
	stopRenew := make(chan struct{})
	renewed := make(chan struct{})
	go func() { defer close(renewed); r.renewLoop(stopRenew) }()
	w.log.Info().Str("owner", clip(w.cfg.owner)).Msg("delivery worker started")
	for ctx.Err() == nil {
		r.claim()
		select {
		case <-ctx.Done():
		case <-w.notify:
			r.wakeAll()
		case <-w.store.Changes():
			r.wakeAll()
		case <-r.ended:
		case <-poll.C:
			r.wakeAll()
		case <-sweep.C:
			w.sweep(ctx)
		}
	}

	done := make(chan struct{})
	go func() { r.wg.Wait(); close(stopRenew); <-renewed; close(done) }()
	t := time.NewTimer(w.cfg.drain)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		w.log.Warn().Int64("drain_timeout_ms", w.cfg.drain.Milliseconds()).Msg("in-flight sends did not finish in time; cancelling them, their jobs stay queued")
		cancelHard()
		<-done
	}
	w.log.Info().Msg("delivery worker stopped")
	return nil
}

func (w *Worker) sweep(ctx context.Context) {
	n, err := w.store.Sweep(ctx)
	if err != nil && ctx.Err() == nil {
		w.log.Error().Err(err).Msg("sweep of expired refs and de-dup marks failed")
		return
	}
	w.log.Debug().Int("removed", n).Msg("swept expired refs and de-dup marks")
}

// backoff returns the wait before retry number attempt (1 for the first retry).
func (w *Worker) backoff(attempt int) time.Duration {
	d := w.cfg.max
	if shift := attempt - 1; shift < 40 {
		if b := w.cfg.base << max(shift, 0); b > 0 && b < d {
			d = b
		}
	}
	switch w.cfg.jitter {
	case JitterFull:
		return rand.N(d + 1)
	default:
		half := d / 2
		return half + rand.N(d-half+1)
	}
}

// run is the state of one Run call.
type run struct {
	w     *Worker
	ctx   context.Context // done: take no new sends
	hard  context.Context // done: cancel in-flight sends (drain timeout passed)
	wg    sync.WaitGroup
	ended chan struct{} // a lane ended: claim again (jobs may have come in while it was letting go)

	mu    sync.Mutex
	lanes map[string]*lane // the lanes this run holds
}

// lane is one destination held under a lease. Its goroutine owns jobs, held and stale; mu guards the
// lease, which the renewer updates too.
type lane struct {
	dest   string
	ctx    context.Context // done when the run stops taking sends or the lease is lost
	cancel context.CancelFunc
	wake   chan struct{}

	mu    sync.Mutex
	lease Lease
	lost  bool

	jobs  []Job              // the lane's pending jobs, in lane order (the in-memory view)
	held  map[uint64]*finish // jobs finished here whose recording in the store failed, by ID
	stale bool               // reload jobs from the store before the next decision
	grow  bool               // new jobs were committed: append them to the view before the next decision
	more  bool               // the last read filled the view: the store may hold more jobs of the lane
}

// finish is a finished job (sent, superseded, or given up) that the store has not recorded yet: the
// lane retries the recording, never the send.
type finish struct {
	kill     bool         // record a dead letter (code, reason) rather than a completion
	ref      notifier.Ref // the message sent, for a completion
	outcome  string       // delivered, edited, skipped
	code     string       // metric reason of a dead letter
	reason   string
	lastErr  string
	repeats  int // how many times in a row the store answered lastErr
	tries    int
	nextAt   time.Time
	received time.Time
}

func (l *lane) current() Lease {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lease
}

// setLease takes a new lease on the lane (a renewal, or a claim that replaced an ended lease of this
// same worker), keeping the later pacing state.
func (l *lane) setLease(nl Lease) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if nl.Epoch < l.lease.Epoch {
		return
	}
	if l.lease.TAT.After(nl.TAT) {
		nl.TAT = l.lease.TAT
	}
	l.lease = nl
}

// lose stops the lane at once: another worker holds it now.
func (l *lane) lose() {
	l.mu.Lock()
	l.lost = true
	l.mu.Unlock()
	l.cancel()
}

func (l *lane) isLost() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// claim takes the lanes with pending jobs that nobody holds and starts delivering them.
func (r *run) claim() {
	w := r.w
	r.mu.Lock()
	room := maxLanes - len(r.lanes)
	r.mu.Unlock()
	if room <= 0 {
		return
	}
	leases, err := w.store.ClaimLanes(r.ctx, w.cfg.owner, w.cfg.lease, room)
	if err != nil {
		if r.ctx.Err() == nil {
			w.log.Error().Str("error", clip(err.Error())).Msg("claiming lanes failed; trying again later")
		}
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, le := range leases {
		if l := r.lanes[le.Dest]; l != nil && !l.isLost() {
			// This worker's own lease had ended and it claimed the lane again.
			l.setLease(le)
			signal(l.wake)
			continue
		}
		// A lane lost earlier whose goroutine is still ending is replaced (laneDone leaves the new one).
		ctx, cancel := context.WithCancel(r.ctx)
		l := &lane{dest: le.Dest, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), lease: le,
			held: map[uint64]*finish{}, stale: true}
		r.lanes[le.Dest] = l
		r.wg.Add(1)
		go r.laneLoop(l)
	}
}

// wakeAll makes every lane reload its jobs (new jobs were committed).
func (r *run) wakeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lanes {
		signal(l.wake)
	}
}

// renewLoop renews the leases of the held lanes every third of the lease until stop is closed.
func (r *run) renewLoop(stop <-chan struct{}) {
	w := r.w
	t := time.NewTicker(max(w.cfg.lease/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		r.mu.Lock()
		lanes := make([]*lane, 0, len(r.lanes))
		for _, l := range r.lanes {
			lanes = append(lanes, l)
		}
		r.mu.Unlock()
		for _, l := range lanes {
			r.renew(l)
		}
	}
}

// renew extends l's lease; it returns false when the lease is lost (and stops the lane).
func (r *run) renew(l *lane) bool {
	w := r.w
	le := l.current()
	nl, err := w.store.Renew(r.hard, le, w.cfg.lease)
	switch {
	case err == nil:
		l.setLease(nl)
		return true
	case errors.Is(err, ErrLeaseLost):
		if cur := l.current(); cur.Epoch != le.Epoch {
			return true // claimed again meanwhile
		}
		w.log.Warn().Str("destination", clip(l.dest)).Msg("lane lease lost to another worker; no more sends on it here")
		l.lose()
		return false
	default:
		if r.hard.Err() == nil {
			w.log.Error().Str("destination", clip(l.dest)).Str("error", clip(err.Error())).Msg("renewing a lane lease failed; trying again")
		}
		return true
	}
}

// fenced runs a fenced write with the lane's current lease. When the lease is lost, the lane stops.
func (r *run) fenced(l *lane, write func(Lease) error) error {
	for {
		le := l.current()
		err := write(le)
		if !errors.Is(err, ErrLeaseLost) {
			return err
		}
		if cur := l.current(); cur.Epoch != le.Epoch && !l.isLost() {
			continue // this worker claimed the lane again meanwhile: write under the new lease
		}
		r.w.log.Warn().Str("destination", clip(l.dest)).Msg("lane lease lost to another worker; no more sends on it here")
		l.lose()
		return err
	}
}

// laneDone lets go of a lane whose goroutine ended.
func (r *run) laneDone(l *lane) {
	r.mu.Lock()
	if r.lanes[l.dest] == l {
		delete(r.lanes, l.dest)
	}
	r.mu.Unlock()
	l.cancel()
	if !l.isLost() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), time.Second)
		if err := r.w.store.Release(ctx, l.current()); err != nil {
			r.w.log.Warn().Str("destination", clip(l.dest)).Str("error", clip(err.Error())).Msg("releasing a lane lease failed; it ends on its own")
		}
		cancel()
	}
	signal(r.ended)
}

// laneLoop delivers one lane until it is empty, its lease is lost or the run stops.
func (r *run) laneLoop(l *lane) {
	defer r.wg.Done()
	defer r.laneDone(l)
	w := r.w
	for l.ctx.Err() == nil {
		select {
		case <-l.wake:
			l.grow = true
		default:
		}
		if l.more && len(l.jobs) < loadPage/2 {
			l.grow = true // the view has room again for jobs the last read left out
		}
		if l.grow && !l.stale && len(l.jobs) > 0 {
			if !r.grow(l) {
				continue
			}
		}
		if l.stale || len(l.jobs) == 0 {
			jobs, err := w.store.LaneJobs(l.ctx, l.dest, loadPage)
			if err != nil {
				if l.ctx.Err() != nil {
					return
				}
				w.log.Error().Str("destination", clip(l.dest)).Str("error", clip(err.Error())).Msg("reading the pending jobs of a lane failed; trying again")
				_ = w.cfg.clock.Sleep(l.ctx, w.cfg.base)
				continue
			}
			l.jobs, l.stale, l.grow, l.more = jobs, false, false, len(jobs) == loadPage
			keep := make(map[uint64]bool, len(jobs))
			for _, j := range jobs {
				keep[j.ID] = true
			}
			for id := range l.held {
				if !keep[id] {
					delete(l.held, id)
				}
			}
			if len(l.jobs) == 0 {
				return
			}
		}
		i, wait := r.next(l)
		switch {
		case i >= 0:
			r.handle(l, i)
		case wait > 0:
			r.wait(l, wait)
		}
	}
}

// next gives up the jobs past the max age (any job of the lane, not only the first), then picks the
// job to handle now: the first job of the lane that is the oldest pending job of its activity and is
// due. When none is due, it returns -1 and how long until the first one is.
func (r *run) next(l *lane) (int, time.Duration) {
	w := r.w
	now := w.cfg.clock.Now()
	if w.cfg.maxAge > 0 {
		for i := 0; i < len(l.jobs); i++ {
			j := l.jobs[i]
			if l.held[j.ID] != nil || now.Sub(j.Received) < w.cfg.maxAge {
				continue
			}
			reason := fmt.Sprintf("not delivered within the max age of %s", w.cfg.maxAge)
			if j.LastError != "" {
				reason += "; last error: " + j.LastError
			}
			if !r.kill(l, j, reasonMaxAge, reason) {
				return -1, 0
			}
			i--
		}
		if len(l.jobs) == 0 {
			l.stale = true
			return -1, 0
		}
	}
	seen := map[string]bool{}
	var first time.Time
	if w.cfg.maxAge > 0 {
		// Wake up for the first job to reach its max age, too.
		for _, j := range l.jobs {
			if dl := j.Received.Add(w.cfg.maxAge); l.held[j.ID] == nil && (first.IsZero() || dl.Before(first)) {
				first = dl
			}
		}
	}
	for i, j := range l.jobs {
		if seen[j.Activity] {
			continue
		}
		seen[j.Activity] = true
		due := j.NextAt
		if f := l.held[j.ID]; f != nil {
			due = f.nextAt
		}
		if !due.After(now) {
			return i, 0
		}
		if first.IsZero() || due.Before(first) {
			first = due
		}
	}
	return -1, first.Sub(now)
}

// wait sleeps for d or until the lane is woken (new jobs) or stopped.
func (r *run) wait(l *lane, d time.Duration) {
	ctx, cancel := context.WithCancel(l.ctx)
	done := make(chan struct{})
	woke := false
	go func() {
		defer close(done)
		select {
		case <-l.wake:
			woke = true
			cancel()
		case <-ctx.Done():
		}
	}()
	_ = r.w.cfg.clock.Sleep(ctx, d)
	cancel()
	<-done
	if woke {
		l.grow = true
	}
}

// grow appends the jobs committed after the last one of the view (the view holds at most loadPage
// jobs: the rest are read when it has emptied). It returns false after an error, which it logs.
func (r *run) grow(l *lane) bool {
	w := r.w
	l.grow = false
	tail, ok := w.store.(laneTail)
	if !ok {
		l.stale = true
		return true
	}
	room := loadPage - len(l.jobs)
	if room <= 0 {
		return true
	}
	jobs, err := tail.laneJobsAfter(l.ctx, l.dest, l.jobs[len(l.jobs)-1].ID, room)
	l.more = err == nil && len(jobs) == room
	if err != nil {
		if l.ctx.Err() == nil {
			w.log.Error().Str("destination", clip(l.dest)).Str("error", clip(err.Error())).Msg("reading the new jobs of a lane failed; trying again")
			l.stale = true
			_ = w.cfg.clock.Sleep(l.ctx, w.cfg.base)
		}
		return false
	}
	l.jobs = append(l.jobs, jobs...)
	return true
}

// drop removes job id from the lane's view.
func (l *lane) drop(id uint64) {
	for i, j := range l.jobs {
		if j.ID == id {
			l.jobs = append(l.jobs[:i:i], l.jobs[i+1:]...)
			break
		}
	}
	delete(l.held, id)
}

func (r *run) jobLog(j Job) zerolog.Logger {
	return r.w.log.With().Uint64("job", j.ID).Str("activity", clip(j.Activity)).Str("project", clip(j.Project)).
		Str("environment", clip(j.Environment)).Str("type", clip(j.Type)).Str("state", clip(j.State)).
		Str("destination", clip(j.Dest)).Logger()
}

// handle takes one step on job l.jobs[i]: record what a previous step could not, finish it without
// sending when its message already shows as much, or send it.
func (r *run) handle(l *lane, i int) {
	w := r.w
	job := l.jobs[i]
	log := r.jobLog(job)
	kind := Kind(job.Dest)
	if f := l.held[job.ID]; f != nil {
		r.record(l, job, f)
		return
	}
	n, err := w.resolve(job.Dest)
	if err != nil || n == nil {
		reason := ReasonNotConfigured
		if err != nil {
			reason += ": " + err.Error()
		}
		r.kill(l, job, reasonNotConfigured, reason)
		return
	}
	shown, err := w.store.Shown(l.ctx, job.Activity, job.Dest)
	if err != nil {
		if l.ctx.Err() != nil {
			return
		}
		// Sending without the ref would post a second message instead of editing the first.
		r.retry(l, i, log, kind, reasonTransient, fmt.Errorf("read the message ref: %w", err), w.backoff(job.Attempts+1))
		return
	}
	if shown.Rank > 0 && Rank(job.State) <= shown.Rank {
		r.record(l, job, &finish{outcome: outcomeSkipped, received: job.Received})
		return
	}
	now := w.cfg.clock.Now()
	if p, ok := n.(notifier.Paced); ok {
		if wait := l.reserve(p.Pace(), now); wait > 0 {
			if w.cfg.clock.Sleep(l.ctx, wait) != nil {
				return
			}
		}
	}
	// Renew early when the renewer is behind (a clock that jumps): never send on an ended lease.
	if le := l.current(); !w.cfg.clock.Now().Before(le.Until.Add(-w.cfg.lease * 2 / 3)) {
		if !r.renew(l) {
			return
		}
		if !w.cfg.clock.Now().Before(l.current().Until) {
			// The store could not renew the lease (unreachable) and it has ended: another worker may hold
			// the lane by now, so nothing is sent here until a renewal succeeds.
			log.Warn().Msg("lane lease ended and could not be renewed; not sending until it is")
			_ = w.cfg.clock.Sleep(l.ctx, w.cfg.base)
			return
		}
	}
	select {
	case w.sem <- struct{}{}:
	case <-l.ctx.Done():
		return
	}
	sendCtx, cancel := context.WithTimeout(r.hard, w.cfg.sendTimeout)
	ref, err := n.Send(sendCtx, job.Msg, shown.Ref)
	cancel()
	<-w.sem

	if err == nil {
		outcome := "delivered"
		if !shown.Ref.IsZero() {
			outcome = "edited"
		}
		r.record(l, job, &finish{ref: ref, outcome: outcome, received: job.Received})
		return
	}
	if r.hard.Err() != nil {
		log.Warn().Str("error", clip(err.Error())).Msg("send interrupted by shutdown; the job stays queued")
		return
	}
	switch d, isRetryAfter := notifier.RetryAfterOf(err); {
	case notifier.IsGone(err) && !shown.Ref.IsZero():
		// The message to edit was deleted: post a new one at once.
		if ferr := r.fenced(l, func(le Lease) error { return w.store.Forget(r.hard, le, job.Activity, job.Dest) }); ferr != nil {
			if errors.Is(ferr, ErrLeaseLost) {
				return
			}
			log.Error().Str("error", clip(ferr.Error())).Msg("dropping a stale message ref failed")
		}
		r.retry(l, i, log, kind, reasonGone, err, 0)
	case notifier.IsPermanent(err):
		job.Attempts++
		job.LastError = clip(err.Error())
		r.kill(l, job, reasonPermanent, "permanent: "+err.Error())
	case isRetryAfter:
		r.retry(l, i, log, kind, reasonRetryAfter, err, d)
	default:
		r.retry(l, i, log, kind, reasonTransient, err, w.backoff(job.Attempts+1))
	}
}

// retry records a failed attempt of l.jobs[i] and schedules the next one after wait. The lane keeps
// the schedule even when the store cannot save it.
func (r *run) retry(l *lane, i int, log zerolog.Logger, kind, reason string, err error, wait time.Duration) {
	w := r.w
	job := &l.jobs[i]
	job.Attempts++
	job.LastError = clip(err.Error())
	job.NextAt = time.Time{}
	if wait > 0 {
		job.NextAt = w.cfg.clock.Now().Add(wait)
	}
	j := *job
	if uerr := r.fenced(l, func(le Lease) error { return w.store.Update(r.hard, le, j) }); uerr != nil && !errors.Is(uerr, ErrLeaseLost) {
		log.Error().Str("error", clip(uerr.Error())).Msg("saving the retry state failed")
	}
	w.m.deliveries.WithLabelValues(kind, "retry", reason).Inc()
	w.m.retries.WithLabelValues(kind).Inc()
	log.Warn().Str("error", clip(err.Error())).Str("reason", reason).Int("attempts", job.Attempts).Int64("retry_in_ms", wait.Milliseconds()).
		Msg("delivery failed; will retry")
}

// kill gives job up as a dead letter; it returns false when the store could not record that (the lane
// keeps the job and tries the recording again later) or the lease was lost.
func (r *run) kill(l *lane, job Job, code, reason string) bool {
	return r.record(l, job, &finish{kill: true, code: code, reason: clip2(reason), received: job.Received})
}

// record writes f, the end of job, to the store. It returns whether the job is off the lane. When the
// store fails, the job stays on the lane (in this process) and the recording (never the send) is tried
// again after a backoff; when the same error that is not I/O keeps coming back for a completion, the
// job becomes a dead letter instead.
func (r *run) record(l *lane, job Job, f *finish) bool {
	w := r.w
	log := r.jobLog(job)
	kind := Kind(job.Dest)
	var err error
	if f.kill {
		err = r.fenced(l, func(le Lease) error { _, err := w.store.Kill(r.hard, le, job, f.reason); return err })
	} else {
		err = r.fenced(l, func(le Lease) error { return w.store.Complete(r.hard, le, job, f.ref) })
	}
	if err == nil {
		l.drop(job.ID)
		switch {
		case f.kill:
			w.m.deliveries.WithLabelValues(kind, "dead", f.code).Inc()
			log.Error().Str("reason", clip(f.reason)).Int("attempts", job.Attempts).Msg("notice given up: dead letter")
		case f.outcome == outcomeSkipped:
			w.m.deliveries.WithLabelValues(kind, outcomeSkipped, reasonSuperseded).Inc()
			log.Info().Msg("notice not sent: its message already shows this state or a later one")
		default:
			w.m.deliveries.WithLabelValues(kind, f.outcome, reasonOK).Inc()
			took := w.cfg.clock.Now().Sub(f.received)
			w.m.duration.Observe(took.Seconds())
			log.Info().Str("outcome", f.outcome).Int("attempts", job.Attempts+1).Float64("since_received_ms", float64(took.Microseconds())/1000).Msg("notice delivered")
		}
		return true
	}
	if errors.Is(err, ErrLeaseLost) {
		return false
	}
	msg := clip(err.Error())
	if msg == f.lastErr && !transientStoreError(err) {
		f.repeats++
	} else {
		f.lastErr, f.repeats = msg, 1
	}
	f.tries++
	f.nextAt = w.cfg.clock.Now().Add(w.backoff(f.tries))
	l.held[job.ID] = f
	if !f.kill && f.repeats >= maxRepeats {
		log.Error().Str("error", msg).Int("repeats", f.repeats).Msg("recording a finished notice keeps failing the same way; giving it up as a dead letter")
		nf := &finish{kill: true, code: reasonStore, reason: clip2("the store could not record the delivery: " + err.Error()), received: f.received}
		l.held[job.ID] = nf
		return r.record(l, job, nf)
	}
	what := "recording a finished notice failed"
	if f.kill {
		what = "moving a job to the dead letters failed"
	}
	log.Error().Str("error", msg).Int("tries", f.tries).Msg(what + "; the job stays queued here and the recording is tried again")
	return false
}

// transientStoreError reports whether a store error may go away by itself (I/O, a closed store, a
// timeout), so that its repetition says nothing about the job.
func transientStoreError(err error) bool {
	var errno syscall.Errno
	var pathErr *fs.PathError
	var netErr net.Error
	return errors.As(err, &errno) || errors.As(err, &pathErr) || errors.As(err, &netErr) ||
		errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// reserve takes a send slot of the lane's pace and returns how long to wait for it: Burst sends at
// once, then one per Every (the generic cell rate algorithm, a token bucket without a timer). The
// theoretical arrival time lives in the lease, so the store keeps it with every fenced write.
func (l *lane) reserve(p notifier.Pace, now time.Time) time.Duration {
	if p.Every <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	tau := p.Every * time.Duration(max(p.Burst, 1)-1)
	tat := l.lease.TAT
	if tat.Before(now) {
		tat = now
	}
	wait := max(tat.Sub(now)-tau, 0)
	l.lease.TAT = tat.Add(p.Every)
	return wait
}

// clip bounds a value for a log line.
func clip(s string) string { return clipN(s, maxLogValue) }

// clip2 bounds a value kept in the store (a dead letter's reason).
func clip2(s string) string { return clipN(s, 4*maxLogValue) }

func clipN(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("…(%d bytes)", len(s))
}

// defaultOwner names this process: host name, process ID and a random suffix.
func defaultOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "activitybridge"
	}
	return fmt.Sprintf("%s-%d-%08x", host, os.Getpid(), rand.Uint32())
}

type metrics struct {
	deliveries *prometheus.CounterVec
	retries    *prometheus.CounterVec
	duration   prometheus.Histogram
	depth      prometheus.GaugeFunc
	oldest     prometheus.GaugeFunc
	dead       prometheus.GaugeFunc
}

func newMetrics(w *Worker, reg prometheus.Registerer) *metrics {
	stats := func() Stats {
		st, err := w.store.Stats(context.Background())
		if err != nil {
			return Stats{}
		}
		return st
	}
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "activitybridge_deliveries_total",
			Help: "Delivery attempts by destination kind, outcome (delivered, edited, skipped, retry, dead) and reason.",
		}, []string{"kind", "outcome", "reason"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "activitybridge_retries_total",
			Help: "Failed sends that will be tried again, by destination kind.",
		}, []string{"kind"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "activitybridge_delivery_duration_seconds",
			Help:    "Time from receiving a webhook to the chat service acknowledging its message.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400},
		}),
		depth: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "activitybridge_queue_depth",
			Help: "Jobs waiting to be delivered.",
		}, func() float64 { return float64(stats().Pending) }),
		oldest: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "activitybridge_oldest_pending_seconds",
			Help: "Age of the oldest job waiting to be delivered (0 when none).",
		}, func() float64 {
			st := stats()
			if st.OldestReceived.IsZero() {
				return 0
			}
			return max(w.cfg.clock.Now().Sub(st.OldestReceived).Seconds(), 0)
		}),
		dead: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "activitybridge_dead_letters",
			Help: "Dead letters kept (see the admin endpoint /deadletters).",
		}, func() float64 { return float64(stats().DeadLetters) }),
	}
	for _, k := range w.cfg.kinds {
		m.retries.WithLabelValues(k) // exported at 0 from the start
	}
	if reg != nil {
		reg.MustRegister(m.deliveries, m.retries, m.duration, globalGauges{w.store, []prometheus.Collector{m.depth, m.oldest, m.dead}})
	}
	return m
}
