// Package outbox keeps the rendered notices that still have to reach a chat service: durable jobs,
// the message references used to edit a notice when a later state of the same activity arrives, the
// de-duplication marks that turn a repeated webhook into a no-op, and the dead letters. Its Worker
// delivers the jobs (one ordered lane per destination, paced, with retries and backoff) and
// AdminHandler lists and replays the dead letters.
//
// Two stores implement Store: OpenBolt (a bbolt file, the default, which survives restarts) and
// NewMemory (for tests and for running without a volume).
package outbox

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/activitybridge/activitybridge/notifier"
)

// Job is one rendered notice for one destination, waiting to be delivered.
type Job struct {
	// ID is assigned by Enqueue; IDs increase in the order jobs were accepted.
	ID uint64 `json:"id"`
	// Activity and State identify the webhook delivery the job came from.
	Activity string `json:"activity"`
	State    string `json:"state"`
	// Dest is the destination, e.g. "slack:#deploys@compact"; its kind is the text before the first ':'.
	Dest string `json:"dest"`
	// Project, Environment and Type are carried for logs and metrics only.
	Project     string `json:"project,omitempty"`
	Environment string `json:"environment,omitempty"`
	Type        string `json:"type,omitempty"`
	// Msg is the rendered message (never the raw payload).
	Msg notifier.Message `json:"msg"`
	// Received is when the webhook was accepted; the max age counts from it.
	Received time.Time `json:"received"`
	// Attempts, NextAt and LastError are the worker's bookkeeping.
	Attempts  int       `json:"attempts,omitempty"`
	NextAt    time.Time `json:"next_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

// DeadLetter is a job the worker gave up on, with the reason.
type DeadLetter struct {
	Job    Job       `json:"job"`
	Reason string    `json:"reason"`
	DeadAt time.Time `json:"dead_at"`
}

// Stats is a snapshot of a store's contents, for metrics.
type Stats struct {
	// Pending counts the jobs not yet delivered.
	Pending int
	// DeadLetters counts the dead letters kept.
	DeadLetters int
	// OldestReceived is the Received time of the oldest pending job (zero when none is pending).
	OldestReceived time.Time
}

// ErrNotFound is returned for a job or dead letter that does not exist (any more).
var ErrNotFound = errors.New("outbox: not found")

// ErrClosed is returned by a store that was closed.
var ErrClosed = errors.New("outbox: store closed")

// Store holds jobs, message refs, de-duplication marks and dead letters. Implementations are safe for
// concurrent use. Only one Worker should deliver from a Store at a time.
type Store interface {
	// Enqueue commits jobs for one (activity, state) atomically, together with the de-dup mark for that
	// pair: either all jobs and the mark are stored, or (on error) nothing is. Enqueue assigns each job
	// its ID, sets Activity and State, and sets Received to now when it is zero. It returns queued=0 and
	// no error when (activity, state) was seen within the de-dup window (a duplicate delivery).
	Enqueue(ctx context.Context, activity, state string, jobs []Job) (queued int, err error)
	// PendingAfter returns up to limit pending jobs whose ID is above after, in ID order.
	PendingAfter(ctx context.Context, after uint64, limit int) ([]Job, error)
	// Get returns the pending job id; ok is false when it is not pending (delivered or dead).
	Get(ctx context.Context, id uint64) (job Job, ok bool, err error)
	// Update saves the bookkeeping (Attempts, NextAt, LastError) of a pending job.
	Update(ctx context.Context, job Job) error
	// Complete deletes a delivered job and, when ref is not zero, saves ref as the message of
	// (job.Activity, job.Dest), in one transaction.
	Complete(ctx context.Context, job Job, ref notifier.Ref) error
	// Kill moves a pending job to the dead letters with reason.
	Kill(ctx context.Context, job Job, reason string) (DeadLetter, error)
	// Ref returns the message posted for (activity, dest), or the zero Ref.
	Ref(ctx context.Context, activity, dest string) (notifier.Ref, error)
	// PutRef saves the message posted for (activity, dest); the zero Ref deletes it.
	PutRef(ctx context.Context, activity, dest string, ref notifier.Ref) error
	// DeadLetters lists the dead letters in ID order.
	DeadLetters(ctx context.Context) ([]DeadLetter, error)
	// Replay turns dead letter id back into a pending job with a new ID, no attempts and Received set
	// to now (so the max age starts again). It returns ErrNotFound for an unknown id.
	Replay(ctx context.Context, id uint64) (Job, error)
	// ReplayAll replays every dead letter and returns how many.
	ReplayAll(ctx context.Context) (int, error)
	// Sweep removes refs and de-dup marks older than the de-dup window and dead letters older than
	// the dead-letter retention, and returns how many entries it removed.
	Sweep(ctx context.Context) (int, error)
	// Stats counts pending jobs and dead letters.
	Stats(ctx context.Context) (Stats, error)
	// Changes receives a value after new pending jobs were committed (Enqueue, Replay), so that a
	// worker can pick them up without polling.
	Changes() <-chan struct{}
	// Ping reports whether the store is writable (for /readyz).
	Ping() error
	// Close releases the store. Stop the Worker first.
	Close() error
}

// Clock is the time source of a Store and a Worker; tests pass a fake one.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits for d or until ctx is done; it returns ctx.Err() when ctx ended the wait.
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock returns the Clock of the wall clock.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Defaults of the store options, and the bolt file's name inside BRIDGE_DATA_DIR.
const (
	DefaultDedupWindow         = 72 * time.Hour
	DefaultDeadLetterRetention = 30 * 24 * time.Hour
	DefaultLockTimeout         = time.Second
	DefaultFileName            = "activitybridge.db"
)

const (
	expiryKindDedup byte = 'd'
	expiryKindRef   byte = 'r'
)

type storeConfig struct {
	clock       Clock
	window      time.Duration
	retention   time.Duration
	lockTimeout time.Duration
	noSync      bool // tests only: skip fsync where durability is not what is tested
}

// Option configures a Store.
type Option func(*storeConfig)

// WithClock sets the store's time source (for de-dup marks, refs, Received and DeadAt).
func WithClock(c Clock) Option { return func(s *storeConfig) { s.clock = c } }

// WithDedupWindow sets how long de-dup marks and message refs are kept (default 72h). A later state
// of an activity that arrives after the window is posted as a new message.
func WithDedupWindow(d time.Duration) Option { return func(s *storeConfig) { s.window = d } }

// WithDeadLetterRetention sets how long dead letters are kept (default 30 days); 0 keeps them forever.
func WithDeadLetterRetention(d time.Duration) Option {
	return func(s *storeConfig) { s.retention = d }
}

// WithLockTimeout sets how long OpenBolt waits for the file lock held by another process (default 1s).
func WithLockTimeout(d time.Duration) Option { return func(s *storeConfig) { s.lockTimeout = d } }

func newStoreConfig(opts []Option) storeConfig {
	c := storeConfig{
		clock:       SystemClock(),
		window:      DefaultDedupWindow,
		retention:   DefaultDeadLetterRetention,
		lockTimeout: DefaultLockTimeout,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// pairKey joins two parts of a key with a byte that appears in neither (IDs and destinations are text).
func pairKey(a, b string) []byte { return []byte(a + "\x00" + b) }

func idKey(id uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	return b[:]
}

func keyID(k []byte) uint64 { return binary.BigEndian.Uint64(k) }

// Kind returns the kind of a destination: the text before the first ':' (or '@'), e.g. "slack" for
// "slack:#deploys@compact" and "console" for "console".
func Kind(dest string) string {
	if i := strings.IndexAny(dest, ":@"); i >= 0 {
		return dest[:i]
	}
	return dest
}

// prepare fills in what Enqueue owns on the jobs of one (activity, state).
func prepare(activity, state string, jobs []Job, now time.Time) []Job {
	out := make([]Job, len(jobs))
	for i, j := range jobs {
		j.Activity, j.State = activity, state
		if j.Received.IsZero() {
			j.Received = now
		}
		j.Attempts, j.NextAt, j.LastError = 0, time.Time{}, ""
		out[i] = j
	}
	return out
}

// revive turns a dead letter back into a fresh job.
func revive(d DeadLetter, id uint64, now time.Time) Job {
	j := d.Job
	j.ID = id
	j.Attempts, j.NextAt, j.LastError = 0, time.Time{}, ""
	j.Received = now
	return j
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
