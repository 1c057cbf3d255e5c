package outbox

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/activitybridge/activitybridge/notifier"
)

type stamped struct {
	at    time.Time
	shown Shown
}

// memoryStore keeps everything in maps. Jobs and dead letters are kept as JSON, as in the bolt store,
// so that callers never share slices with the store and both stores round-trip the same way.
type memoryStore struct {
	cfg     storeConfig
	changes chan struct{}

	mu     sync.Mutex
	closed bool
	seq    uint64
	ids    []uint64            // pending IDs, ascending
	lanes  map[string][]uint64 // pending IDs by destination, ascending
	jobs   map[uint64][]byte
	dead   map[uint64][]byte
	shown  map[string]stamped
	dedup  map[string]time.Time
	leases leaseTable
}

// NewMemory returns a Store that keeps everything in memory: pending jobs are lost on restart.
func NewMemory(opts ...Option) Store {
	return &memoryStore{
		cfg:     newStoreConfig(opts),
		changes: make(chan struct{}, 1),
		lanes:   map[string][]uint64{},
		jobs:    map[uint64][]byte{},
		dead:    map[uint64][]byte{},
		shown:   map[string]stamped{},
		dedup:   map[string]time.Time{},
		leases:  leaseTable{},
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
		s.add(j.ID, j.Dest, encoded[i])
	}
	s.seq += uint64(len(prepared))
	s.dedup[mark] = now
	if len(prepared) > 0 {
		signal(s.changes)
	}
	return len(prepared), nil
}

// add stores a pending job; its ID is above every pending one.
func (s *memoryStore) add(id uint64, dest string, v []byte) {
	s.jobs[id] = v
	s.ids = append(s.ids, id)
	s.lanes[dest] = append(s.lanes[dest], id)
}

func (s *memoryStore) ClaimLanes(ctx context.Context, owner string, leaseFor time.Duration, limit int) ([]Lease, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	now := s.cfg.clock.Now()
	// Oldest lane first: the lane whose first pending job was accepted first.
	dests := make([]string, 0, len(s.lanes))
	for d, ids := range s.lanes {
		if len(ids) > 0 && s.leases.claimable(d, owner, now) {
			dests = append(dests, d)
		}
	}
	slices.SortFunc(dests, func(a, b string) int { return cmp.Compare(s.lanes[a][0], s.lanes[b][0]) })
	var out []Lease
	for _, d := range dests {
		if len(out) >= limit {
			break
		}
		l, _ := s.leases.claim(d, owner, leaseFor, now)
		out = append(out, l)
	}
	return out, nil
}

func (s *memoryStore) Renew(ctx context.Context, l Lease, leaseFor time.Duration) (Lease, error) {
	if err := s.lock(ctx); err != nil {
		return Lease{}, err
	}
	defer s.mu.Unlock()
	nl, err := s.leases.renew(l, leaseFor, s.cfg.clock.Now())
	if err != nil {
		return Lease{}, fmt.Errorf("outbox: renew lease on %s: %w", l.Dest, err)
	}
	return nl, nil
}

func (s *memoryStore) Release(ctx context.Context, l Lease) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.leases.release(l)
	return nil
}

func (s *memoryStore) LaneJobs(ctx context.Context, dest string, limit int) ([]Job, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	ids := s.lanes[dest]
	out := make([]Job, 0, min(len(ids), limit))
	for _, id := range ids[:min(len(ids), limit)] {
		var j Job
		if err := json.Unmarshal(s.jobs[id], &j); err != nil {
			return nil, fmt.Errorf("outbox: decode job %d: %w", id, err)
		}
		out = append(out, j)
	}
	return out, nil
}

// laneJobsAfter implements laneTail.
func (s *memoryStore) laneJobsAfter(ctx context.Context, dest string, after uint64, limit int) ([]Job, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	ids := s.lanes[dest]
	i, _ := slices.BinarySearch(ids, after+1)
	ids = ids[i:]
	out := make([]Job, 0, min(len(ids), limit))
	for _, id := range ids[:min(len(ids), limit)] {
		var j Job
		if err := json.Unmarshal(s.jobs[id], &j); err != nil {
			return nil, fmt.Errorf("outbox: decode job %d: %w", id, err)
		}
		out = append(out, j)
	}
	return out, nil
}

// fence checks that l holds its lane and keeps its pacing state; the caller holds s.mu.
func (s *memoryStore) fence(l Lease, dest string) error {
	if dest != l.Dest {
		return fmt.Errorf("%w: job of %s under the lease of %s", ErrLeaseLost, dest, l.Dest)
	}
	if err := s.leases.check(l); err != nil {
		return err
	}
	s.leases.save(l)
	return nil
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

func (s *memoryStore) Update(ctx context.Context, l Lease, job Job) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := s.fence(l, job.Dest); err != nil {
		return fmt.Errorf("outbox: update job %d: %w", job.ID, err)
	}
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

func (s *memoryStore) remove(id uint64, dest string) {
	delete(s.jobs, id)
	if i, ok := slices.BinarySearch(s.ids, id); ok {
		s.ids = slices.Delete(s.ids, i, i+1)
	}
	lane := s.lanes[dest]
	if i, ok := slices.BinarySearch(lane, id); ok {
		lane = slices.Delete(lane, i, i+1)
	}
	if len(lane) == 0 {
		delete(s.lanes, dest)
	} else {
		s.lanes[dest] = lane
	}
}

// current returns what (activity, dest) shows now, the zero Shown after the window.
func (s *memoryStore) current(k string) Shown {
	v, ok := s.shown[k]
	if !ok || s.cfg.clock.Now().Sub(v.at) >= s.cfg.window {
		return Shown{}
	}
	return v.shown
}

func (s *memoryStore) Complete(ctx context.Context, l Lease, job Job, ref notifier.Ref) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := s.fence(l, job.Dest); err != nil {
		return fmt.Errorf("outbox: complete job %d: %w", job.ID, err)
	}
	if _, ok := s.jobs[job.ID]; ok {
		// The stored job, not the caller's copy, names the destination's lane.
		s.remove(job.ID, job.Dest)
	}
	k := string(pairKey(job.Activity, job.Dest))
	sh := s.current(k)
	sh.Rank = max(sh.Rank, Rank(job.State))
	if !ref.IsZero() {
		sh.Ref = ref
	}
	s.shown[k] = stamped{at: s.cfg.clock.Now(), shown: sh}
	return nil
}

func (s *memoryStore) Forget(ctx context.Context, l Lease, activity, dest string) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := s.fence(l, dest); err != nil {
		return fmt.Errorf("outbox: forget the message of %s: %w", dest, err)
	}
	k := string(pairKey(activity, dest))
	if sh := s.current(k); !sh.Ref.IsZero() {
		sh.Ref = notifier.Ref{}
		s.shown[k] = stamped{at: s.cfg.clock.Now(), shown: sh}
	}
	return nil
}

func (s *memoryStore) Shown(ctx context.Context, activity, dest string) (Shown, error) {
	if err := s.lock(ctx); err != nil {
		return Shown{}, err
	}
	defer s.mu.Unlock()
	return s.current(string(pairKey(activity, dest))), nil
}

func (s *memoryStore) Kill(ctx context.Context, l Lease, job Job, reason string) (DeadLetter, error) {
	if err := s.lock(ctx); err != nil {
		return DeadLetter{}, err
	}
	defer s.mu.Unlock()
	if err := s.fence(l, job.Dest); err != nil {
		return DeadLetter{}, fmt.Errorf("outbox: dead-letter job %d: %w", job.ID, err)
	}
	j, err := s.stored(job)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("outbox: dead-letter job %d: %w", job.ID, err)
	}
	d := DeadLetter{Job: j, Reason: reason, DeadAt: s.cfg.clock.Now()}
	v, err := json.Marshal(d)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("outbox: dead-letter job %d: %w", job.ID, err)
	}
	s.remove(job.ID, j.Dest)
	s.dead[job.ID] = v
	return d, nil
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
	s.add(j.ID, j.Dest, jv)
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
	for k, r := range s.shown {
		if !r.at.After(cutoff) {
			delete(s.shown, k)
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
