// Package outbox keeps the rendered notices that still have to reach a chat service: durable jobs,
// what each destination shows of each activity (the message to edit when a later state arrives, and
// the rank of the most advanced state shown), the de-duplication marks that turn a repeated webhook
// into a no-op, and the dead letters. Its Worker delivers the jobs (one leased, paced lane per
// destination, ordered per activity, with retries and backoff) and AdminHandler lists and replays the
// dead letters.
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

// ErrLeaseLost is returned by a fenced write or Renew when the lease is no longer held by its owner
// and epoch (another worker took the lane over, or the lease was released).
var ErrLeaseLost = errors.New("outbox: lane lease lost")

// Lease is a worker's hold on one destination's lane.
type Lease struct {
	Dest  string
	Owner string
	// Epoch is bumped by every claim; it fences writes.
	Epoch uint64
	// Until is when the lease ends unless renewed.
	Until time.Time
	// TAT is the lane's pacing state (the GCRA theoretical arrival time), saved by every fenced write
	// and by Renew so that whoever takes the lane over keeps the pace.
	TAT time.Time
}

// Shown is what one destination shows of one activity: the message to edit (zero when none, or when
// the destination cannot edit) and the rank of the most advanced state it has shown.
type Shown struct {
	Ref  notifier.Ref `json:"ref"`
	Rank int          `json:"rank"`
}

// Rank orders the states of an activity: scheduled, staged and pending 1, in_progress 2, complete and
// cancelled 3, anything else 0. A message never goes from a rank to a lower or equal one.
func Rank(state string) int {
	switch state {
	case "scheduled", "staged", "pending":
		return 1
	case "in_progress":
		return 2
	case "complete", "cancelled":
		return 3
	}
	return 0
}

// Store holds jobs, what each destination shows of each activity, de-duplication marks, dead letters
// and the leases of the lanes. Implementations are safe for concurrent use.
//
// A destination (Job.Dest) is a lane, delivered by one worker at a time, which holds a Lease on it.
// Every write a worker makes about a job of a lane is fenced: it succeeds only while the lease's
// owner and epoch still hold the lane, else it returns ErrLeaseLost. Memory and bolt keep the leases
// in memory (they are single-process stores) but fence for real, so two Workers with different owners
// on one store behave like two replicas.
type Store interface {
	// Enqueue commits jobs for one (activity, state) atomically, together with the de-dup mark for that
	// pair: either all jobs and the mark are stored, or (on error) nothing is. Enqueue assigns each job
	// its ID, sets Activity and State, and sets Received to now when it is zero. It returns queued=0 and
	// no error when (activity, state) was seen within the de-dup window (a duplicate delivery). Jobs of
	// one destination are ordered by commit order (their IDs increase in that order).
	Enqueue(ctx context.Context, activity, state string, jobs []Job) (queued int, err error)

	// ClaimLanes claims, for owner and leaseFor, up to max lanes that have pending jobs and that nobody
	// holds or whose lease ended (Until <= now); each claim bumps the epoch. Lanes owner already holds
	// with a live lease are not returned.
	ClaimLanes(ctx context.Context, owner string, leaseFor time.Duration, max int) ([]Lease, error)
	// Renew extends l by leaseFor from now and saves l.TAT; ErrLeaseLost when l is no longer held.
	Renew(ctx context.Context, l Lease, leaseFor time.Duration) (Lease, error)
	// Release ends l (keeping the lane's TAT) so that another worker may claim the lane at once;
	// releasing a lost lease is not an error.
	Release(ctx context.Context, l Lease) error
	// LaneJobs returns up to limit pending jobs of dest in lane order (commit order).
	LaneJobs(ctx context.Context, dest string, limit int) ([]Job, error)

	// Update saves the bookkeeping (Attempts, NextAt, LastError) of a pending job. Fenced.
	Update(ctx context.Context, l Lease, job Job) error
	// Complete deletes a finished job (delivered or superseded) and records what (job.Activity,
	// job.Dest) now shows: the rank raised to max(stored, Rank(job.State)), ref saved when not zero (a
	// zero ref keeps the stored one). Fenced.
	Complete(ctx context.Context, l Lease, job Job, ref notifier.Ref) error
	// Kill moves a pending job to the dead letters with reason. Fenced.
	Kill(ctx context.Context, l Lease, job Job, reason string) (DeadLetter, error)
	// Forget drops the stored ref of (activity, dest), keeping its rank: the message was deleted and
	// the next send posts anew. Fenced.
	Forget(ctx context.Context, l Lease, activity, dest string) error

	// Shown returns what (activity, dest) shows (the zero Shown when nothing, or after the de-dup
	// window).
	Shown(ctx context.Context, activity, dest string) (Shown, error)

	// DeadLetters lists the dead letters in ID order.
	DeadLetters(ctx context.Context) ([]DeadLetter, error)
	// Replay turns dead letter id back into a pending job with a new ID, no attempts and Received set
	// to now (so the max age starts again). It returns ErrNotFound for an unknown id.
	Replay(ctx context.Context, id uint64) (Job, error)
	// ReplayAll replays every dead letter and returns how many.
	ReplayAll(ctx context.Context) (int, error)
	// Sweep removes what destinations show and de-dup marks older than the de-dup window and dead
	// letters older than the dead-letter retention, and returns how many entries it removed.
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

// laneTail is implemented by stores that list the jobs of a lane after a known job cheaply. While a
// worker holds a lane, only it changes the lane's jobs and new ones come after every known one, so the
// worker appends them to its view instead of reading the whole lane again on every wake-up.
type laneTail interface {
	// laneJobsAfter returns up to limit pending jobs of dest whose ID is above after, in lane order.
	laneJobsAfter(ctx context.Context, dest string, after uint64, limit int) ([]Job, error)
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

// WithClock sets the store's time source (for de-dup marks, what is shown, leases, Received and DeadAt).
func WithClock(c Clock) Option { return func(s *storeConfig) { s.clock = c } }

// WithDedupWindow sets how long de-dup marks and what each destination shows of an activity (its
// message ref and rank) are kept after their last change (default 72h). A later state of an activity
// that arrives after the window is posted as a new message.
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
