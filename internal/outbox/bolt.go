package outbox

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/activitybridge/activitybridge/notifier"
)

var (
	bucketJobs   = []byte("jobs")   // job ID → Job JSON
	bucketDead   = []byte("dead")   // original job ID → DeadLetter JSON
	bucketRefs   = []byte("refs")   // activity\0dest → unix nanos (8) + Shown JSON (older files: Ref JSON)
	bucketLanes  = []byte("lanes")  // dest\0job ID (8) → empty: the pending jobs of each lane, in order
	bucketDedup  = []byte("dedup")  // activity\0state → unix nanos (8)
	bucketExpiry = []byte("expiry") // unix nanos (8) + kind (1) + key → empty: the sweep's index
)

// boltStore keeps everything in one bbolt file. Writes from many goroutines (webhook handlers, worker
// lanes) go through write, which group-commits them: one commit and its fsyncs for every write that
// arrived while the previous commit was in progress.
type boltStore struct {
	db      *bolt.DB
	cfg     storeConfig
	changes chan struct{}

	writes    chan *write   // to the committer; unbuffered, so a write is never stranded at Close
	closing   chan struct{} // closed by Close: no more writes
	committed chan struct{} // closed when the committer has stopped

	pending atomic.Int64
	dead    atomic.Int64
	commits atomic.Int64 // committed write transactions, for the group-commit test

	lmu    sync.Mutex // guards leases; taken inside write transactions to fence them
	leases leaseTable
}

// maxGroup caps the writes that share one commit.
const maxGroup = 1000

// write is one caller's part of a group commit.
type write struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// write runs fn in a read-write transaction and returns once that transaction is committed (or
// failed). fn shares the transaction with other writes, so it may run more than once (when another
// write in the group fails, the rest run again without it) and must compute everything from its
// inputs; OnCommit callbacks run only for the transaction that commits. An error from fn is returned
// to its caller alone. An idle store commits at once: there is no batching delay, the group is
// whatever queued up during the previous commit.
func (s *boltStore) write(fn func(*bolt.Tx) error) error {
	w := &write{fn: fn, done: make(chan error, 1)}
	select {
	case s.writes <- w:
		return <-w.done
	case <-s.closing:
		return bolterrors.ErrDatabaseNotOpen
	}
}

// commitLoop is the store's one committer.
func (s *boltStore) commitLoop() {
	defer close(s.committed)
	group := make([]*write, 0, 64)
	for {
		select {
		case w := <-s.writes:
			group = append(group[:0], w)
		case <-s.closing:
			return
		}
	more:
		for len(group) < maxGroup {
			select {
			case w := <-s.writes:
				group = append(group, w)
			default:
				break more
			}
		}
		s.commit(group)
		clear(group) // drop the references until the next group
	}
}

// commit runs the group's functions in one transaction. When one fails, the transaction is rolled
// back, that caller gets its error and the others run again in a new transaction.
func (s *boltStore) commit(group []*write) {
	for len(group) > 0 {
		failed := -1
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i, w := range group {
				if err := w.fn(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if err != nil && failed >= 0 {
			group[failed].done <- err
			group = append(group[:failed:failed], group[failed+1:]...)
			continue
		}
		if err == nil {
			s.commits.Add(1)
		}
		for _, w := range group {
			w.done <- err
		}
		return
	}
}

// OpenBolt opens (or creates) the bbolt file at path, creating its folder. When another process holds
// the file (a second activitybridge on the same BRIDGE_DATA_DIR), it fails after the lock timeout with an
// error that says so.
func OpenBolt(path string, opts ...Option) (Store, error) {
	cfg := newStoreConfig(opts)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("outbox: create data folder: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: cfg.lockTimeout, NoSync: cfg.noSync})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("outbox: %s is locked by another process (is another activitybridge using the same BRIDGE_DATA_DIR?): %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	s := &boltStore{db: db, cfg: cfg, changes: make(chan struct{}, 1),
		writes: make(chan *write), closing: make(chan struct{}), committed: make(chan struct{}), leases: leaseTable{}}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketJobs, bucketDead, bucketRefs, bucketDedup, bucketExpiry, bucketLanes} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if err := indexLanes(tx); err != nil {
			return err
		}
		s.pending.Store(int64(tx.Bucket(bucketJobs).Stats().KeyN))
		s.dead.Store(int64(tx.Bucket(bucketDead).Stats().KeyN))
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("outbox: initialise %s: %w", path, err)
	}
	go s.commitLoop()
	return s, nil
}

func (s *boltStore) Enqueue(ctx context.Context, activity, state string, jobs []Job) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	now := s.cfg.clock.Now()
	var queued int
	// write may run fn more than once and shares the commit with concurrent callers: fn recomputes
	// everything from its inputs.
	err := s.write(func(tx *bolt.Tx) error {
		queued = 0
		dedup := tx.Bucket(bucketDedup)
		mark := pairKey(activity, state)
		if v := dedup.Get(mark); v != nil && now.Sub(decodeTime(v)) < s.cfg.window {
			return nil
		}
		if err := putExpiring(tx, bucketDedup, expiryKindDedup, mark, now, nil); err != nil {
			return err
		}
		b := tx.Bucket(bucketJobs)
		for _, j := range prepare(activity, state, jobs, now) {
			id, err := b.NextSequence()
			if err != nil {
				return err
			}
			j.ID = id
			v, err := json.Marshal(j)
			if err != nil {
				return fmt.Errorf("encode job: %w", err)
			}
			if err := b.Put(idKey(id), v); err != nil {
				return err
			}
			if err := tx.Bucket(bucketLanes).Put(laneKey(j.Dest, id), nil); err != nil {
				return err
			}
		}
		n := len(jobs)
		queued = n
		tx.OnCommit(func() { s.pending.Add(int64(n)) })
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: enqueue activity %s: %w", activity, err)
	}
	if queued > 0 {
		signal(s.changes)
	}
	return queued, nil
}

func (s *boltStore) ClaimLanes(ctx context.Context, owner string, leaseFor time.Duration, limit int) ([]Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type lane struct {
		dest  string
		first uint64
	}
	var lanes []lane
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLanes).Cursor()
		for k, _ := c.First(); k != nil; {
			if len(k) < 9 {
				k, _ = c.Next()
				continue
			}
			dest := string(k[:len(k)-9])
			lanes = append(lanes, lane{dest, keyID(k[len(k)-8:])})
			k, _ = c.Seek([]byte(dest + "\x01")) // past every key of dest
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: list lanes: %w", err)
	}
	// Oldest lane first: the lane whose first pending job was accepted first.
	slices.SortFunc(lanes, func(a, b lane) int { return cmp.Compare(a.first, b.first) })
	now := s.cfg.clock.Now()
	var out []Lease
	barrier := false
	s.lmu.Lock()
	for _, ln := range lanes {
		if len(out) >= limit {
			break
		}
		if !s.leases.claimable(ln.dest, owner, now) {
			continue
		}
		l, tookOver := s.leases.claim(ln.dest, owner, leaseFor, now)
		barrier = barrier || tookOver
		out = append(out, l)
	}
	s.lmu.Unlock()
	if barrier {
		// A write of the previous holder may have passed its fence just before the takeover and not be
		// committed yet: wait for the commit after it, so that the new holder reads what it wrote.
		if err := s.write(func(*bolt.Tx) error { return nil }); err != nil {
			return nil, fmt.Errorf("outbox: claim lanes: %w", err)
		}
	}
	return out, nil
}

func (s *boltStore) Renew(ctx context.Context, l Lease, leaseFor time.Duration) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, err
	}
	s.lmu.Lock()
	defer s.lmu.Unlock()
	nl, err := s.leases.renew(l, leaseFor, s.cfg.clock.Now())
	if err != nil {
		return Lease{}, fmt.Errorf("outbox: renew lease on %s: %w", l.Dest, err)
	}
	return nl, nil
}

func (s *boltStore) Release(ctx context.Context, l Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.leases.release(l)
	return nil
}

func (s *boltStore) LaneJobs(ctx context.Context, dest string, limit int) ([]Job, error) {
	return s.laneJobsAfter(ctx, dest, 0, limit)
}

// laneJobsAfter implements laneTail.
func (s *boltStore) laneJobsAfter(ctx context.Context, dest string, after uint64, limit int) ([]Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Job
	prefix := []byte(dest + "\x00")
	err := s.db.View(func(tx *bolt.Tx) error {
		jobs := tx.Bucket(bucketJobs)
		c := tx.Bucket(bucketLanes).Cursor()
		for k, _ := c.Seek(laneKey(dest, after+1)); k != nil && len(out) < limit && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(k) != len(prefix)+8 {
				continue
			}
			id := k[len(prefix):]
			v := jobs.Get(id)
			if v == nil {
				continue // the index outlived its job (cannot happen: both change in one transaction)
			}
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("decode job %d: %w", keyID(id), err)
			}
			out = append(out, j)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: list the jobs of %s: %w", dest, err)
	}
	return out, nil
}

// fence checks, inside a write transaction, that l holds its lane and keeps its pacing state.
func (s *boltStore) fence(l Lease, dest string) error {
	if dest != l.Dest {
		return fmt.Errorf("%w: job of %s under the lease of %s", ErrLeaseLost, dest, l.Dest)
	}
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if err := s.leases.check(l); err != nil {
		return err
	}
	s.leases.save(l)
	return nil
}

func (s *boltStore) Update(ctx context.Context, l Lease, job Job) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.write(func(tx *bolt.Tx) error {
		if err := s.fence(l, job.Dest); err != nil {
			return err
		}
		b := tx.Bucket(bucketJobs)
		stored, err := withBookkeeping(b, job)
		if err != nil {
			return err
		}
		nv, err := json.Marshal(stored)
		if err != nil {
			return err
		}
		return b.Put(idKey(job.ID), nv)
	})
	if err != nil {
		return fmt.Errorf("outbox: update job %d: %w", job.ID, err)
	}
	return nil
}

func (s *boltStore) Complete(ctx context.Context, l Lease, job Job, ref notifier.Ref) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.cfg.clock.Now()
	err := s.write(func(tx *bolt.Tx) error {
		if err := s.fence(l, job.Dest); err != nil {
			return err
		}
		b := tx.Bucket(bucketJobs)
		if b.Get(idKey(job.ID)) != nil {
			if err := deleteJob(tx, job.ID, job.Dest); err != nil {
				return err
			}
			tx.OnCommit(func() { s.pending.Add(-1) })
		}
		sh, err := s.shown(tx, job.Activity, job.Dest, now)
		if err != nil {
			return err
		}
		sh.Rank = max(sh.Rank, Rank(job.State))
		if !ref.IsZero() {
			sh.Ref = ref
		}
		return putShown(tx, job.Activity, job.Dest, sh, now)
	})
	if err != nil {
		return fmt.Errorf("outbox: complete job %d: %w", job.ID, err)
	}
	return nil
}

func (s *boltStore) Kill(ctx context.Context, l Lease, job Job, reason string) (DeadLetter, error) {
	if err := ctx.Err(); err != nil {
		return DeadLetter{}, err
	}
	d := DeadLetter{Reason: reason, DeadAt: s.cfg.clock.Now()}
	err := s.write(func(tx *bolt.Tx) error {
		if err := s.fence(l, job.Dest); err != nil {
			return err
		}
		b := tx.Bucket(bucketJobs)
		stored, err := withBookkeeping(b, job)
		if err != nil {
			return err
		}
		d.Job = stored
		dv, err := json.Marshal(d)
		if err != nil {
			return err
		}
		if err := deleteJob(tx, job.ID, stored.Dest); err != nil {
			return err
		}
		if err := tx.Bucket(bucketDead).Put(idKey(job.ID), dv); err != nil {
			return err
		}
		tx.OnCommit(func() { s.pending.Add(-1); s.dead.Add(1) })
		return nil
	})
	if err != nil {
		return DeadLetter{}, fmt.Errorf("outbox: dead-letter job %d: %w", job.ID, err)
	}
	return d, nil
}

func (s *boltStore) Forget(ctx context.Context, l Lease, activity, dest string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.cfg.clock.Now()
	err := s.write(func(tx *bolt.Tx) error {
		if err := s.fence(l, dest); err != nil {
			return err
		}
		sh, err := s.shown(tx, activity, dest, now)
		if err != nil || sh.Ref.IsZero() {
			return err
		}
		sh.Ref = notifier.Ref{}
		return putShown(tx, activity, dest, sh, now)
	})
	if err != nil {
		return fmt.Errorf("outbox: forget the message of %s: %w", dest, err)
	}
	return nil
}

func (s *boltStore) Shown(ctx context.Context, activity, dest string) (Shown, error) {
	if err := ctx.Err(); err != nil {
		return Shown{}, err
	}
	var sh Shown
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		sh, err = s.shown(tx, activity, dest, s.cfg.clock.Now())
		return err
	})
	if err != nil {
		return Shown{}, fmt.Errorf("outbox: read what %s shows: %w", dest, err)
	}
	return sh, nil
}

// shown reads what (activity, dest) shows, the zero Shown when nothing or when it expired (the sweep
// has not come by yet). Files written before ranks were kept hold a bare Ref: rank 0.
func (s *boltStore) shown(tx *bolt.Tx, activity, dest string, now time.Time) (Shown, error) {
	v := tx.Bucket(bucketRefs).Get(pairKey(activity, dest))
	if len(v) < 8 || now.Sub(decodeTime(v)) >= s.cfg.window {
		return Shown{}, nil
	}
	var stored struct {
		Ref     *notifier.Ref `json:"ref"`
		Rank    int           `json:"rank"`
		Channel string        `json:"channel"` // the older format: a bare Ref
		ID      string        `json:"id"`
	}
	if err := json.Unmarshal(v[8:], &stored); err != nil {
		return Shown{}, fmt.Errorf("decode: %w", err)
	}
	if stored.Ref == nil {
		return Shown{Ref: notifier.Ref{Channel: stored.Channel, ID: stored.ID}, Rank: stored.Rank}, nil
	}
	return Shown{Ref: *stored.Ref, Rank: stored.Rank}, nil
}

func (s *boltStore) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []DeadLetter{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDead).ForEach(func(k, v []byte) error {
			var d DeadLetter
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("decode dead letter %d: %w", keyID(k), err)
			}
			out = append(out, d)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: list dead letters: %w", err)
	}
	return out, nil
}

func (s *boltStore) Replay(ctx context.Context, id uint64) (Job, error) {
	if err := ctx.Err(); err != nil {
		return Job{}, err
	}
	var j Job
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		j, err = s.replay(tx, idKey(id))
		return err
	})
	if err != nil {
		return Job{}, fmt.Errorf("outbox: replay dead letter %d: %w", id, err)
	}
	signal(s.changes)
	return j, nil
}

func (s *boltStore) replay(tx *bolt.Tx, k []byte) (Job, error) {
	dead := tx.Bucket(bucketDead)
	v := dead.Get(k)
	if v == nil {
		return Job{}, ErrNotFound
	}
	var d DeadLetter
	if err := json.Unmarshal(v, &d); err != nil {
		return Job{}, err
	}
	jobs := tx.Bucket(bucketJobs)
	id, err := jobs.NextSequence()
	if err != nil {
		return Job{}, err
	}
	j := revive(d, id, s.cfg.clock.Now())
	jv, err := json.Marshal(j)
	if err != nil {
		return Job{}, err
	}
	if err := jobs.Put(idKey(id), jv); err != nil {
		return Job{}, err
	}
	if err := tx.Bucket(bucketLanes).Put(laneKey(j.Dest, id), nil); err != nil {
		return Job{}, err
	}
	if err := dead.Delete(k); err != nil {
		return Job{}, err
	}
	tx.OnCommit(func() { s.pending.Add(1); s.dead.Add(-1) })
	return j, nil
}

func (s *boltStore) ReplayAll(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		var keys [][]byte
		err := tx.Bucket(bucketDead).ForEach(func(k, _ []byte) error {
			keys = append(keys, bytes.Clone(k))
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := s.replay(tx, k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("outbox: replay dead letters: %w", err)
	}
	if n > 0 {
		signal(s.changes)
	}
	return n, nil
}

// sweepChunk bounds one sweep transaction so that a large backlog does not hold the writer for long.
const sweepChunk = 5000

func (s *boltStore) Sweep(ctx context.Context) (int, error) {
	now := s.cfg.clock.Now()
	cutoff := now.Add(-s.cfg.window)
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var n, seen int
		err := s.db.Update(func(tx *bolt.Tx) error {
			n, seen = 0, 0
			idx := tx.Bucket(bucketExpiry)
			var keys [][]byte
			c := idx.Cursor()
			for k, _ := c.First(); k != nil && len(keys) < sweepChunk; k, _ = c.Next() {
				if len(k) < 9 || decodeTime(k).After(cutoff) {
					break
				}
				keys = append(keys, bytes.Clone(k))
			}
			seen = len(keys)
			for _, k := range keys {
				main := bucketDedup
				if k[8] == expiryKindRef {
					main = bucketRefs
				}
				b := tx.Bucket(main)
				// The entry may have been renewed since this index entry was written.
				if v := b.Get(k[9:]); v != nil && !decodeTime(v).After(cutoff) {
					if err := b.Delete(k[9:]); err != nil {
						return err
					}
					n++
				}
				if err := idx.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("outbox: sweep: %w", err)
		}
		total += n
		if seen < sweepChunk {
			break
		}
	}
	if s.cfg.retention <= 0 {
		return total, nil
	}
	dcut := now.Add(-s.cfg.retention)
	var n int
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		dead := tx.Bucket(bucketDead)
		var keys [][]byte
		err := dead.ForEach(func(k, v []byte) error {
			var d struct {
				DeadAt time.Time `json:"dead_at"`
			}
			if err := json.Unmarshal(v, &d); err == nil && d.DeadAt.Before(dcut) {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := dead.Delete(k); err != nil {
				return err
			}
		}
		n = len(keys)
		tx.OnCommit(func() { s.dead.Add(int64(-n)) })
		return nil
	})
	if err != nil {
		return total, fmt.Errorf("outbox: sweep dead letters: %w", err)
	}
	return total + n, nil
}

func (s *boltStore) Stats(ctx context.Context) (Stats, error) {
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	st := Stats{Pending: int(s.pending.Load()), DeadLetters: int(s.dead.Load())}
	err := s.db.View(func(tx *bolt.Tx) error {
		_, v := tx.Bucket(bucketJobs).Cursor().First()
		if v == nil {
			return nil
		}
		var j struct {
			Received time.Time `json:"received"`
		}
		if err := json.Unmarshal(v, &j); err != nil {
			return err
		}
		st.OldestReceived = j.Received
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("outbox: stats: %w", err)
	}
	return st, nil
}

func (s *boltStore) Changes() <-chan struct{} { return s.changes }

func (s *boltStore) Ping() error {
	if err := s.write(func(*bolt.Tx) error { return nil }); err != nil {
		return fmt.Errorf("outbox: store not writable: %w", err)
	}
	return nil
}

func (s *boltStore) Close() error {
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
	<-s.committed
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("outbox: close: %w", err)
	}
	return nil
}

// withBookkeeping returns the stored job job.ID from the jobs bucket b with job's bookkeeping (attempts,
// next try, last error): the worker's copy carries those, the stored one everything else.
func withBookkeeping(b *bolt.Bucket, job Job) (Job, error) {
	v := b.Get(idKey(job.ID))
	if v == nil {
		return Job{}, ErrNotFound
	}
	var stored Job
	if err := json.Unmarshal(v, &stored); err != nil {
		return Job{}, err
	}
	stored.Attempts, stored.NextAt, stored.LastError = job.Attempts, job.NextAt, job.LastError
	return stored, nil
}

// putExpiring stores key → now (+ rest) in bucket main and indexes it for the sweep.
func putExpiring(tx *bolt.Tx, main []byte, kind byte, key []byte, now time.Time, rest []byte) error {
	v := append(encodeTime(now), rest...)
	if err := tx.Bucket(main).Put(key, v); err != nil {
		return err
	}
	ik := append(append(encodeTime(now), kind), key...)
	return tx.Bucket(bucketExpiry).Put(ik, nil)
}

func putShown(tx *bolt.Tx, activity, dest string, sh Shown, now time.Time) error {
	v, err := json.Marshal(sh)
	if err != nil {
		return err
	}
	return putExpiring(tx, bucketRefs, expiryKindRef, pairKey(activity, dest), now, v)
}

// laneKey is the lane index key of job id of dest.
func laneKey(dest string, id uint64) []byte {
	return append([]byte(dest+"\x00"), idKey(id)...)
}

// deleteJob removes pending job id of dest and its lane index entry.
func deleteJob(tx *bolt.Tx, id uint64, dest string) error {
	if err := tx.Bucket(bucketJobs).Delete(idKey(id)); err != nil {
		return err
	}
	return tx.Bucket(bucketLanes).Delete(laneKey(dest, id))
}

// indexLanes builds the lane index of a file written before it existed (or whose index does not
// match its jobs).
func indexLanes(tx *bolt.Tx) error {
	jobs, lanes := tx.Bucket(bucketJobs), tx.Bucket(bucketLanes)
	if jobs.Stats().KeyN == lanes.Stats().KeyN {
		return nil
	}
	if err := tx.DeleteBucket(bucketLanes); err != nil {
		return err
	}
	lanes, err := tx.CreateBucket(bucketLanes)
	if err != nil {
		return err
	}
	return jobs.ForEach(func(k, v []byte) error {
		var j struct {
			Dest string `json:"dest"`
		}
		if err := json.Unmarshal(v, &j); err != nil {
			return fmt.Errorf("decode job %d: %w", keyID(k), err)
		}
		return lanes.Put(laneKey(j.Dest, keyID(k)), nil)
	})
}

func encodeTime(t time.Time) []byte {
	b := make([]byte, 8, 64)
	binary.BigEndian.PutUint64(b, uint64(t.UnixNano()))
	return b
}

func decodeTime(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
}
