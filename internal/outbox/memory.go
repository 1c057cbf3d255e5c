package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/activitybridge/activitybridge/notifier"
)

type stamped struct {
	at  time.Time
	ref notifier.Ref
}

// memoryStore keeps everything in maps. Jobs and dead letters are kept as JSON, as in the bolt store,
// so that callers never share slices with the store and both stores round-trip the same way.
type memoryStore struct {
	cfg     storeConfig
	changes chan struct{}

	mu     sync.Mutex
	closed bool
	seq    uint64
	ids    []uint64 // pending IDs, ascending
	jobs   map[uint64][]byte
	dead   map[uint64][]byte
	refs   map[string]stamped
	dedup  map[string]time.Time
}

// NewMemory returns a Store that keeps everything in memory: pending jobs are lost on restart.
func NewMemory(opts ...Option) Store {
	return &memoryStore{
		cfg:     newStoreConfig(opts),
		changes: make(chan struct{}, 1),
		jobs:    map[uint64][]byte{},
		dead:    map[uint64][]byte{},
		refs:    map[string]stamped{},
		dedup:   map[string]time.Time{},
	}
}

func (s *memoryStore) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	return nil
}

func (s *memoryStore) Enqueue(ctx context.Context, activity, state string, jobs []Job) (int, error) {
	if err := s.lock(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	now := s.cfg.clock.Now()
	mark := string(pairKey(activity, state))
	if at, ok := s.dedup[mark]; ok && now.Sub(at) < s.cfg.window {
		return 0, nil
	}
	// Encode everything first so that an error leaves nothing behind.
	prepared := prepare(activity, state, jobs, now)
	encoded := make([][]byte, len(prepared))
	for i := range prepared {
		prepared[i].ID = s.seq + uint64(i) + 1
		v, err := json.Marshal(prepared[i])
		if err != nil {
			return 0, fmt.Errorf("outbox: enqueue activity %s: encode job: %w", activity, err)
		}
		encoded[i] = v
	}
	for i, j := range prepared {
		s.jobs[j.ID] = encoded[i]
		s.ids = append(s.ids, j.ID)
	}
	s.seq += uint64(len(prepared))
	s.dedup[mark] = now
	if len(prepared) > 0 {
		signal(s.changes)
	}
	return len(prepared), nil
}

func (s *memoryStore) PendingAfter(ctx context.Context, after uint64, limit int) ([]Job, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	i, _ := slices.BinarySearch(s.ids, after+1)
	var out []Job
	for ; i < len(s.ids) && len(out) < limit; i++ {
		var j Job
		if err := json.Unmarshal(s.jobs[s.ids[i]], &j); err != nil {
			return nil, fmt.Errorf("outbox: decode job %d: %w", s.ids[i], err)
		}
		out = append(out, j)
	}
	return out, nil
}

func (s *memoryStore) Get(ctx context.Context, id uint64) (Job, bool, error) {
	if err := s.lock(ctx); err != nil {
		return Job{}, false, err
	}
	defer s.mu.Unlock()
	v, ok := s.jobs[id]
	if !ok {
		return Job{}, false, nil
	}
	var j Job
	if err := json.Unmarshal(v, &j); err != nil {
		return Job{}, false, fmt.Errorf("outbox: decode job %d: %w", id, err)
	}
	return j, true, nil
}

// stored returns the pending job id with the bookkeeping of job applied.
func (s *memoryStore) stored(job Job) (Job, error) {
	v, ok := s.jobs[job.ID]
	if !ok {
		return Job{}, ErrNotFound
	}
	var j Job
	if err := json.Unmarshal(v, &j); err != nil {
		return Job{}, err
	}
	j.Attempts, j.NextAt, j.LastError = job.Attempts, job.NextAt, job.LastError
	return j, nil
}

func (s *memoryStore) Update(ctx context.Context, job Job) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	j, err := s.stored(job)
	if err != nil {
		return fmt.Errorf("outbox: update job %d: %w", job.ID, err)
	}
	v, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("outbox: update job %d: %w", job.ID, err)
	}
	s.jobs[job.ID] = v
	return nil
}

func (s *memoryStore) remove(id uint64) {
	delete(s.jobs, id)
	if i, ok := slices.BinarySearch(s.ids, id); ok {
		s.ids = slices.Delete(s.ids, i, i+1)
	}
}

func (s *memoryStore) Complete(ctx context.Context, job Job, ref notifier.Ref) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.remove(job.ID)
	if !ref.IsZero() {
		s.refs[string(pairKey(job.Activity, job.Dest))] = stamped{at: s.cfg.clock.Now(), ref: ref}
	}
	return nil
}

func (s *memoryStore) Kill(ctx context.Context, job Job, reason string) (DeadLetter, error) {
	if err := s.lock(ctx); err != nil {
		return DeadLetter{}, err
	}
	defer s.mu.Unlock()
	j, err := s.stored(job)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("outbox: dead-letter job %d: %w", job.ID, err)
	}
	d := DeadLetter{Job: j, Reason: reason, DeadAt: s.cfg.clock.Now()}
	v, err := json.Marshal(d)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("outbox: dead-letter job %d: %w", job.ID, err)
	}
	s.remove(job.ID)
	s.dead[job.ID] = v
	return d, nil
}

func (s *memoryStore) Ref(ctx context.Context, activity, dest string) (notifier.Ref, error) {
	if err := s.lock(ctx); err != nil {
		return notifier.Ref{}, err
	}
	defer s.mu.Unlock()
	r, ok := s.refs[string(pairKey(activity, dest))]
	if !ok || s.cfg.clock.Now().Sub(r.at) >= s.cfg.window {
		return notifier.Ref{}, nil
	}
	return r.ref, nil
}

func (s *memoryStore) PutRef(ctx context.Context, activity, dest string, ref notifier.Ref) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	k := string(pairKey(activity, dest))
	if ref.IsZero() {
		delete(s.refs, k)
		return nil
	}
	s.refs[k] = stamped{at: s.cfg.clock.Now(), ref: ref}
	return nil
}

func (s *memoryStore) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	ids := make([]uint64, 0, len(s.dead))
	for id := range s.dead {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]DeadLetter, 0, len(ids))
	for _, id := range ids {
		var d DeadLetter
		if err := json.Unmarshal(s.dead[id], &d); err != nil {
			return nil, fmt.Errorf("outbox: decode dead letter %d: %w", id, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func (s *memoryStore) replay(id uint64) (Job, error) {
	v, ok := s.dead[id]
	if !ok {
		return Job{}, ErrNotFound
	}
	var d DeadLetter
	if err := json.Unmarshal(v, &d); err != nil {
		return Job{}, err
	}
	j := revive(d, s.seq+1, s.cfg.clock.Now())
	jv, err := json.Marshal(j)
	if err != nil {
		return Job{}, err
	}
	s.seq++
	s.jobs[j.ID] = jv
	s.ids = append(s.ids, j.ID)
	delete(s.dead, id)
	return j, nil
}

func (s *memoryStore) Replay(ctx context.Context, id uint64) (Job, error) {
	if err := s.lock(ctx); err != nil {
		return Job{}, err
	}
	defer s.mu.Unlock()
	j, err := s.replay(id)
	if err != nil {
		return Job{}, fmt.Errorf("outbox: replay dead letter %d: %w", id, err)
	}
	signal(s.changes)
	return j, nil
}

func (s *memoryStore) ReplayAll(ctx context.Context) (int, error) {
	if err := s.lock(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	ids := make([]uint64, 0, len(s.dead))
	for id := range s.dead {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if _, err := s.replay(id); err != nil {
			return 0, fmt.Errorf("outbox: replay dead letter %d: %w", id, err)
		}
	}
	if len(ids) > 0 {
		signal(s.changes)
	}
	return len(ids), nil
}

func (s *memoryStore) Sweep(ctx context.Context) (int, error) {
	if err := s.lock(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	now := s.cfg.clock.Now()
	cutoff := now.Add(-s.cfg.window)
	n := 0
	for k, at := range s.dedup {
		if !at.After(cutoff) {
			delete(s.dedup, k)
			n++
		}
	}
	for k, r := range s.refs {
		if !r.at.After(cutoff) {
			delete(s.refs, k)
			n++
		}
	}
	if s.cfg.retention > 0 {
		dcut := now.Add(-s.cfg.retention)
		for id, v := range s.dead {
			var d DeadLetter
			if err := json.Unmarshal(v, &d); err == nil && d.DeadAt.Before(dcut) {
				delete(s.dead, id)
				n++
			}
		}
	}
	return n, nil
}

func (s *memoryStore) Stats(ctx context.Context) (Stats, error) {
	if err := s.lock(ctx); err != nil {
		return Stats{}, err
	}
	defer s.mu.Unlock()
	st := Stats{Pending: len(s.ids), DeadLetters: len(s.dead)}
	if len(s.ids) > 0 {
		var j Job
		if err := json.Unmarshal(s.jobs[s.ids[0]], &j); err != nil {
			return Stats{}, fmt.Errorf("outbox: stats: %w", err)
		}
		st.OldestReceived = j.Received
	}
	return st, nil
}

func (s *memoryStore) Changes() <-chan struct{} { return s.changes }

func (s *memoryStore) Ping() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return nil
}

func (s *memoryStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}
