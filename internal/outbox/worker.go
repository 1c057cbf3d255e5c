package outbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

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
)

// ReasonNotConfigured is the dead-letter reason of a job whose destination the resolver does not know.
const ReasonNotConfigured = "destination not configured"

// loadPage is how many pending jobs the worker reads from the store at a time.
const loadPage = 512

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
}

// WorkerOption configures a Worker.
type WorkerOption func(*workerConfig)

// WithMaxAge sets how old (since Received) a job may get before it becomes a dead letter instead of
// being tried again (BRIDGE_MAX_AGE, default 24h); 0 never gives up on age.
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

// WithSweepInterval sets how often expired refs, de-dup marks and old dead letters are removed
// (default 10m; also once when Run starts).
func WithSweepInterval(d time.Duration) WorkerOption {
	return func(c *workerConfig) { c.sweepEvery = d }
}

// WithPollInterval sets how often the worker looks for pending jobs when nothing woke it (default 5s);
// a backstop only, Store.Changes and Notify wake it at once.
func WithPollInterval(d time.Duration) WorkerOption {
	return func(c *workerConfig) { c.pollEvery = d }
}

// WithWorkerClock sets the worker's time source for ages, backoff, retry-after waits and pacing.
// Drain and send timeouts always use the wall clock.
func WithWorkerClock(c Clock) WorkerOption { return func(w *workerConfig) { w.clock = c } }

// Worker delivers the pending jobs of a Store. Jobs of one destination go through one lane, strictly
// in ID order (an edit never overtakes its post); lanes of different destinations run in parallel.
type Worker struct {
	store   Store
	resolve func(dest string) (notifier.Notifier, error)
	log     zerolog.Logger
	cfg     workerConfig
	m       *metrics
	notify  chan struct{}
	sem     chan struct{}
	running atomic.Bool
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
	}{{&cfg.sweepEvery, DefaultSweepInterval}, {&cfg.pollEvery, DefaultPollInterval}, {&cfg.sendTimeout, DefaultSendTimeout}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
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
	r := &run{w: w, ctx: ctx, hard: hard, lanes: map[string]*lane{}}

	w.sweep(ctx)
	sweep := time.NewTicker(w.cfg.sweepEvery)
	defer sweep.Stop()
	poll := time.NewTicker(w.cfg.pollEvery)
	defer poll.Stop()
	w.log.Info().Msg("delivery worker started")
	for ctx.Err() == nil {
		r.load()
		select {
		case <-ctx.Done():
		case <-w.notify:
		case <-w.store.Changes():
		case <-poll.C:
		case <-sweep.C:
			w.sweep(ctx)
		}
	}

	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	t := time.NewTimer(w.cfg.drain)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		w.log.Warn().Dur("drain_timeout", w.cfg.drain).Msg("in-flight sends did not finish in time; cancelling them, their jobs stay queued")
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
	last  uint64 // highest job ID handed to a lane
	lanes map[string]*lane
}

// lane holds the job IDs of one destination, in ID order.
type lane struct {
	dest  string
	mu    sync.Mutex
	queue []uint64
	wake  chan struct{}
	tat   time.Time // pacing: the theoretical arrival time of the next send (GCRA)
}

// load hands the jobs committed since the last load to their lanes.
func (r *run) load() {
	for r.ctx.Err() == nil {
		jobs, err := r.w.store.PendingAfter(r.ctx, r.last, loadPage)
		if err != nil {
			if r.ctx.Err() == nil {
				r.w.log.Error().Err(err).Msg("reading pending jobs failed; trying again later")
			}
			return
		}
		for _, j := range jobs {
			l := r.lanes[j.Dest]
			if l == nil {
				l = &lane{dest: j.Dest, wake: make(chan struct{}, 1)}
				r.lanes[j.Dest] = l
				r.wg.Add(1)
				go r.laneLoop(l)
			}
			l.mu.Lock()
			l.queue = append(l.queue, j.ID)
			l.mu.Unlock()
			signal(l.wake)
			r.last = j.ID
		}
		if len(jobs) < loadPage {
			return
		}
	}
}

func (r *run) laneLoop(l *lane) {
	defer r.wg.Done()
	for {
		l.mu.Lock()
		if len(l.queue) == 0 {
			l.mu.Unlock()
			select {
			case <-l.wake:
				continue
			case <-r.ctx.Done():
				return
			}
		}
		id := l.queue[0]
		l.mu.Unlock()
		if !r.deliver(l, id) {
			return
		}
		l.mu.Lock()
		l.queue = l.queue[1:]
		l.mu.Unlock()
		if r.ctx.Err() != nil {
			return
		}
	}
}

// deliver tries job id until it is delivered or dead (true), or until the worker stops (false: the
// job stays in the store as it is).
func (r *run) deliver(l *lane, id uint64) bool {
	w := r.w
	clock := w.cfg.clock
	var job Job
	for {
		j, ok, err := w.store.Get(r.ctx, id)
		if err == nil {
			if !ok {
				return true
			}
			job = j
			break
		}
		if r.ctx.Err() != nil {
			return false
		}
		w.log.Error().Err(err).Uint64("job", id).Msg("reading a pending job failed; trying again")
		if clock.Sleep(r.ctx, w.cfg.base) != nil {
			return false
		}
	}
	log := w.log.With().Uint64("job", job.ID).Str("activity", job.Activity).Str("project", job.Project).
		Str("environment", job.Environment).Str("type", job.Type).Str("state", job.State).
		Str("destination", job.Dest).Logger()
	kind := Kind(job.Dest)

	for {
		if r.ctx.Err() != nil {
			return false
		}
		if d := job.NextAt.Sub(clock.Now()); d > 0 {
			if clock.Sleep(r.ctx, d) != nil {
				return false
			}
			continue
		}
		now := clock.Now()
		if w.cfg.maxAge > 0 && now.Sub(job.Received) >= w.cfg.maxAge {
			reason := fmt.Sprintf("not delivered within the max age of %s", w.cfg.maxAge)
			if job.LastError != "" {
				reason += "; last error: " + job.LastError
			}
			r.kill(log, job, reasonMaxAge, reason)
			return true
		}
		n, err := w.resolve(job.Dest)
		if err != nil || n == nil {
			reason := ReasonNotConfigured
			if err != nil {
				reason += ": " + err.Error()
			}
			r.kill(log, job, reasonNotConfigured, reason)
			return true
		}
		if p, ok := n.(notifier.Paced); ok {
			if wait := l.reserve(p.Pace(), now); wait > 0 {
				if clock.Sleep(r.ctx, wait) != nil {
					return false
				}
			}
		}
		prev, err := w.store.Ref(r.ctx, job.Activity, job.Dest)
		if err != nil {
			if r.ctx.Err() != nil {
				return false
			}
			// Sending without the ref would post a second message instead of editing the first.
			r.retry(log, &job, kind, reasonTransient, fmt.Errorf("read message ref: %w", err), w.backoff(job.Attempts+1))
			continue
		}

		select {
		case w.sem <- struct{}{}:
		case <-r.ctx.Done():
			return false
		}
		sendCtx, cancel := context.WithTimeout(r.hard, w.cfg.sendTimeout)
		ref, err := n.Send(sendCtx, job.Msg, prev)
		cancel()
		<-w.sem

		if err == nil {
			r.complete(log, job, kind, prev, ref)
			return true
		}
		if r.hard.Err() != nil {
			log.Warn().Err(err).Msg("send interrupted by shutdown; the job stays queued")
			return false
		}
		switch d, isRetryAfter := notifier.RetryAfterOf(err); {
		case notifier.IsGone(err) && !prev.IsZero():
			// The message to edit was deleted: post a new one at once.
			if perr := w.store.PutRef(r.hard, job.Activity, job.Dest, notifier.Ref{}); perr != nil {
				log.Error().Err(perr).Msg("dropping a stale message ref failed")
			}
			r.retry(log, &job, kind, reasonGone, err, 0)
		case notifier.IsPermanent(err):
			job.Attempts++
			job.LastError = err.Error()
			r.kill(log, job, reasonPermanent, "permanent: "+err.Error())
			return true
		case isRetryAfter:
			r.retry(log, &job, kind, reasonRetryAfter, err, d)
		default:
			r.retry(log, &job, kind, reasonTransient, err, w.backoff(job.Attempts+1))
		}
	}
}

// retry records a failed attempt and schedules the next one after wait.
func (r *run) retry(log zerolog.Logger, job *Job, kind, reason string, err error, wait time.Duration) {
	w := r.w
	job.Attempts++
	job.LastError = err.Error()
	job.NextAt = time.Time{}
	if wait > 0 {
		job.NextAt = w.cfg.clock.Now().Add(wait)
	}
	if uerr := w.store.Update(r.hard, *job); uerr != nil {
		log.Error().Err(uerr).Msg("saving the retry state failed")
	}
	w.m.deliveries.WithLabelValues(kind, "retry", reason).Inc()
	w.m.retries.WithLabelValues(kind).Inc()
	log.Warn().Err(err).Str("reason", reason).Int("attempts", job.Attempts).Dur("retry_in", wait).
		Msg("delivery failed; will retry")
}

func (r *run) complete(log zerolog.Logger, job Job, kind string, prev, ref notifier.Ref) {
	w := r.w
	for {
		err := w.store.Complete(r.hard, job, ref)
		if err == nil {
			break
		}
		// The message is out: retrying the send would repeat it, so retry the bookkeeping only.
		log.Error().Err(err).Msg("recording a delivered message failed; trying again")
		if w.cfg.clock.Sleep(r.hard, w.cfg.base) != nil {
			return
		}
	}
	outcome := "delivered"
	if !prev.IsZero() {
		outcome = "edited"
	}
	w.m.deliveries.WithLabelValues(kind, outcome, reasonOK).Inc()
	took := w.cfg.clock.Now().Sub(job.Received)
	w.m.duration.Observe(took.Seconds())
	log.Info().Str("outcome", outcome).Int("attempts", job.Attempts+1).Dur("since_received", took).Msg("notice delivered")
}

func (r *run) kill(log zerolog.Logger, job Job, code, reason string) {
	w := r.w
	if _, err := w.store.Kill(r.hard, job, reason); err != nil {
		log.Error().Err(err).Str("reason", reason).Msg("moving a job to the dead letters failed; it stays queued until restart")
		return
	}
	w.m.deliveries.WithLabelValues(Kind(job.Dest), "dead", code).Inc()
	log.Error().Str("reason", reason).Int("attempts", job.Attempts).Msg("notice given up: dead letter")
}

// reserve takes a send slot of the lane's pace and returns how long to wait for it: Burst sends at
// once, then one per Every (the generic cell rate algorithm, a token bucket without a timer).
func (l *lane) reserve(p notifier.Pace, now time.Time) time.Duration {
	if p.Every <= 0 {
		return 0
	}
	tau := p.Every * time.Duration(max(p.Burst, 1)-1)
	tat := l.tat
	if tat.Before(now) {
		tat = now
	}
	wait := max(tat.Sub(now)-tau, 0)
	l.tat = tat.Add(p.Every)
	return wait
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
			Help: "Delivery attempts by destination kind, outcome (delivered, edited, retry, dead) and reason.",
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
	if reg != nil {
		reg.MustRegister(m.deliveries, m.retries, m.duration, m.depth, m.oldest, m.dead)
	}
	return m
}
