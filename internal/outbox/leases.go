package outbox

import (
	"time"
)

// laneHold is the lease state of one lane in a single-process store (memory, bolt).
type laneHold struct {
	owner string // "" when nobody holds the lane
	epoch uint64
	until time.Time
	tat   time.Time
}

// leaseTable keeps the leases of a single-process store; the store serialises access to it.
type leaseTable map[string]*laneHold

// claimable reports whether owner may claim dest now: nobody holds it, or its lease ended.
func (t leaseTable) claimable(dest, owner string, now time.Time) bool {
	h := t[dest]
	return h == nil || h.owner == "" || !h.until.After(now)
}

// claim gives dest to owner until now+leaseFor, bumping the epoch.
func (t leaseTable) claim(dest, owner string, leaseFor time.Duration, now time.Time) (l Lease, tookOver bool) {
	h := t[dest]
	if h == nil {
		h = &laneHold{}
		t[dest] = h
	}
	tookOver = h.owner != ""
	h.owner = owner
	h.epoch++
	h.until = now.Add(leaseFor)
	return Lease{Dest: dest, Owner: owner, Epoch: h.epoch, Until: h.until, TAT: h.tat}, tookOver
}

// check returns ErrLeaseLost unless l still holds its lane. A lease that ended but that nobody took
// over still holds.
func (t leaseTable) check(l Lease) error {
	h := t[l.Dest]
	if h == nil || h.owner == "" || h.owner != l.Owner || h.epoch != l.Epoch {
		return ErrLeaseLost
	}
	return nil
}

// save keeps l's pacing state on its lane; call it after check.
func (t leaseTable) save(l Lease) {
	if h := t[l.Dest]; h != nil && l.TAT.After(h.tat) {
		h.tat = l.TAT
	}
}

func (t leaseTable) renew(l Lease, leaseFor time.Duration, now time.Time) (Lease, error) {
	if err := t.check(l); err != nil {
		return Lease{}, err
	}
	t.save(l)
	h := t[l.Dest]
	h.until = now.Add(leaseFor)
	l.Until = h.until
	return l, nil
}

func (t leaseTable) release(l Lease) {
	if t.check(l) != nil {
		return
	}
	t.save(l)
	h := t[l.Dest]
	h.owner = ""
	h.until = time.Time{}
}
