package receiver

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// The body-memory budget is shared fairly between the addresses that send bodies. A body takes memory
// as its bytes arrive; when the budget is short, freed memory goes to the waiting bodies it fits, first
// the one whose address holds the least, and a waiting body may take memory back from a body in progress
// by having it cut off (503, connection closed):
//
//   - a slow body (one that holds more than its first buffer, received less than fairness.slowBytes in
//     the last fairness.window, and has been reading for at least fairness.minAge since it last waited for
//     memory) of its own address or of an address that holds more than its own;
//   - once it has waited fairness.fairAfter, any body of an address that holds more than its fair share
//     (the budget divided by the number of addresses with a body in progress or waiting).
//
// The memory a cut-off body gives back goes to the waiter that cut it off, not to the next in line.
//
// Between candidates, the one that holds the most goes first, then the one idle the longest. So a sender
// that trickles, or holds more than its share, cannot make another address wait more than fairAfter; and
// a fast sender behind the same address as an attacker (a proxy, an ingress, a shared egress) still gets
// in: an attacker's bodies are slow, and the small first buffers of new bodies fit where its large ones
// do not.

// fairness holds the thresholds of the rules above; tests shrink them.
type fairness struct {
	window    time.Duration // the recent rate of a body is measured over this window
	slowBytes int64         // a body that received less than this in the last window is slow
	minAge    time.Duration // a body younger than this is never slow
	fairAfter time.Duration // how long a waiter waits before it cuts off fast bodies of an address over its share
}

// defaultFairness: a body is slow under 64 KiB/s (a sender on a 1 Mbit/s link sends twice that).
var defaultFairness = fairness{window: time.Second, slowBytes: 64 << 10, minAge: 500 * time.Millisecond,
	fairAfter: 500 * time.Millisecond}

// budget is a counting semaphore of body memory with per-address fairness and preemption.
type budget struct {
	fair fairness
	now  func() time.Time

	mu       sync.Mutex
	total    int64
	free     int64
	reserved int64 // of free, what cut-off bodies gave back for the waiters that cut them off
	groups   map[string]*group
	bodies   map[*body]struct{}
	waiters  []*waiter
}

type group struct {
	key     string
	held    int64
	freeing int64
	n       int // bodies of this address in progress
}

type waiter struct {
	b        *body
	need     int64
	since    time.Time
	granted  bool
	gone     bool          // granted, or gave up
	reserved int64         // memory given back for it by bodies it cut off
	coming   int64         // memory the bodies it cut off still hold
	ready    chan struct{} // signalled when it is granted
}

// body is one request's share of the budget.
type body struct {
	bg      *budget
	g       *group
	held    int64
	freeing int64 // what it held when it was cut off, not yet released
	start   time.Time
	since   time.Time // when it last started reading: its start, or when it last got memory after a wait
	last    time.Time // when bytes last arrived (or since, if later)
	reading bool      // only a body that is reading (not waiting for memory) can be cut off
	waiting bool
	evicted atomic.Bool
	cut     func()  // makes the body's pending read fail at once
	cutFor  *waiter // the waiter it was cut off for, which its memory goes to

	// mu guards last and slots, which every read updates: a lock of the body's own, so that reading a
	// body never waits for the budget's.
	mu    sync.Mutex
	slots [4]slot
}

type slot struct{ idx, n int64 }

func newBudget(total int64, fair fairness) *budget {
	return &budget{fair: fair, now: time.Now, total: total, free: total, groups: map[string]*group{},
		bodies: map[*body]struct{}{}}
}

// addressKey groups requests by the client's address: an IPv4 address, or the /64 of an IPv6 address
// (one host usually has a whole /64).
func addressKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// begin registers a body of the address key that starts reading now; cut makes its pending read fail.
func (bg *budget) begin(key string, cut func()) *body {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	g := bg.groups[key]
	if g == nil {
		g = &group{key: key}
		bg.groups[key] = g
	}
	g.n++
	now := bg.now()
	b := &body{bg: bg, g: g, start: now, since: now, last: now, reading: true, cut: cut}
	bg.bodies[b] = struct{}{}
	return b
}

// acquire takes n bytes for b, waiting at most wait (or until ctx ends). It reports false when the
// memory could not be had in time.
func (b *body) acquire(ctx context.Context, n int64, wait time.Duration) bool {
	bg := b.bg
	bg.mu.Lock()
	if b.evicted.Load() {
		bg.mu.Unlock()
		return false
	}
	if len(bg.waiters) == 0 && bg.free-bg.reserved >= n {
		bg.grant(b, n)
		bg.mu.Unlock()
		return true
	}
	w := &waiter{b: b, need: n, since: bg.now(), ready: make(chan struct{}, 1)}
	b.waiting = true
	bg.waiters = append(bg.waiters, w)
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	// Which bodies are slow, and whether w may take from fast ones, changes with time alone.
	tick := time.NewTicker(max(min(bg.fair.window/4, bg.fair.fairAfter), time.Millisecond))
	defer tick.Stop()
	for {
		bg.dispatch()
		if w.granted {
			b.since = bg.now() // the wait was ours, not the client's: it is not slow for it
			b.mu.Lock()
			b.last = b.since
			b.mu.Unlock()
			bg.mu.Unlock()
			return true
		}
		cuts := bg.evictFor(w)
		bg.mu.Unlock()
		for _, cut := range cuts {
			cut()
		}
		timedOut := false
		select {
		case <-w.ready:
		case <-tick.C:
		case <-timeout.C:
			timedOut = true
		case <-ctx.Done():
			timedOut = true
		}
		bg.mu.Lock()
		if timedOut && !w.granted {
			for i, o := range bg.waiters {
				if o == w {
					bg.waiters = append(bg.waiters[:i], bg.waiters[i+1:]...)
					break
				}
			}
			w.gone = true
			bg.reserved -= w.reserved
			w.reserved = 0
			b.waiting = false
			bg.dispatch() // the memory we did not take may serve the next waiter
			bg.mu.Unlock()
			return false
		}
	}
}

// grant gives n bytes to b; called with mu held.
func (bg *budget) grant(b *body, n int64) {
	bg.free -= n
	b.held += n
	b.g.held += n
}

// dispatch grants free memory to the waiters it fits: first to a waiter whose cut-off bodies gave back
// what it needs, then to the waiter whose address holds the least (in arrival order between equals).
// Memory given back for a waiter is not given to another. A large waiter may see smaller ones pass it; it
// waits at most its BodyWait either way, and small bodies end soon. Called with mu held.
func (bg *budget) dispatch() {
	for {
		best := -1
		for i, w := range bg.waiters {
			if w.need > bg.free-bg.reserved+w.reserved {
				continue
			}
			if best < 0 {
				best = i
				continue
			}
			o := bg.waiters[best]
			if (w.reserved >= w.need) != (o.reserved >= o.need) {
				if w.reserved >= w.need {
					best = i
				}
				continue
			}
			if w.b.g.held < o.b.g.held {
				best = i
			}
		}
		if best < 0 {
			return
		}
		w := bg.waiters[best]
		bg.waiters = append(bg.waiters[:best], bg.waiters[best+1:]...)
		bg.reserved -= w.reserved
		w.reserved = 0
		bg.grant(w.b, w.need)
		w.granted, w.gone, w.b.waiting = true, true, false
		select {
		case w.ready <- struct{}{}:
		default:
		}
	}
}

// evictFor marks as cut off the bodies whose memory w may take (see the package comment at the top of
// this file) until w's need is covered, and returns their cut functions, to be called without mu. The
// memory they give back is kept for w.
func (bg *budget) evictFor(w *waiter) []func() {
	short := w.need - w.reserved - w.coming - (bg.free - bg.reserved)
	var cuts []func()
	now := bg.now()
	for short > 0 {
		v := bg.victim(w, now)
		if v == nil {
			break
		}
		v.evicted.Store(true)
		v.reading = false
		v.cutFor = w
		v.freeing = v.held
		w.coming += v.held
		v.g.freeing += v.held
		short -= v.held
		cuts = append(cuts, v.cut)
	}
	return cuts
}

// victim picks the body w may cut off, or nil: a slow body of w's address or of a richer one, else (after
// fairAfter) a body of the richest address over its fair share.
func (bg *budget) victim(w *waiter, now time.Time) *body {
	gw := w.b.g
	share := bg.total / int64(max(len(bg.groups), 1))
	mayTakeFast := now.Sub(w.since) >= bg.fair.fairAfter
	// Between candidates, the one that holds the most goes first (fewest cut off; an attacker must hold much
	// to matter), then the one that has waited longest for its client's next bytes: an honest sender is
	// being read right now, an attacker that sent its burst waits for its next trickle.
	type candidate struct {
		b    *body
		last time.Time
	}
	before := func(b *body, last time.Time, o candidate) bool {
		return b.held > o.b.held || b.held == o.b.held && last.Before(o.last)
	}
	var slow, fast candidate
	for b := range bg.bodies {
		if b == w.b || !b.reading || b.waiting || b.held == 0 {
			continue
		}
		g := b.g
		gHeld, wHeld := g.held-g.freeing, gw.held-gw.freeing
		recent, last := b.activity(now)
		// A body that holds no more than its first buffer is not worth cutting off as slow: it costs
		// little, and it may be a sender the machine has not got round to yet.
		if b.held > bodyChunk && now.Sub(b.since) >= bg.fair.minAge && (g == gw || gHeld > wHeld) && recent < bg.fair.slowBytes {
			if slow.b == nil || before(b, last, slow) {
				slow = candidate{b, last}
			}
			continue
		}
		if mayTakeFast && g != gw && gHeld > share {
			// The richest address first.
			if fast.b == nil {
				fast = candidate{b, last}
				continue
			}
			fHeld := fast.b.g.held - fast.b.g.freeing
			if gHeld > fHeld || gHeld == fHeld && before(b, last, fast) {
				fast = candidate{b, last}
			}
		}
	}
	if slow.b != nil {
		return slow.b
	}
	return fast.b
}

// slotOf is the index of the quarter window that holds t.
func (bg *budget) slotOf(t time.Time) int64 {
	return t.UnixNano() / int64(bg.fair.window/4)
}

// progress records that n bytes of b arrived.
func (b *body) progress(n int) {
	now := b.bg.now()
	idx := b.bg.slotOf(now)
	b.mu.Lock()
	b.last = now
	s := &b.slots[idx%4]
	if s.idx != idx {
		s.idx, s.n = idx, 0
	}
	s.n += int64(n)
	b.mu.Unlock()
}

// activity returns how many bytes of b arrived in the last window, and when bytes last arrived.
func (b *body) activity(now time.Time) (recent int64, last time.Time) {
	idx := b.bg.slotOf(now)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.slots {
		if s.idx > idx-4 {
			recent += s.n
		}
	}
	return recent, b.last
}

// doneReading makes b impossible to cut off: its body is in, and it will be released soon.
func (b *body) doneReading() {
	b.bg.mu.Lock()
	b.reading = false
	b.bg.mu.Unlock()
}

// release gives n of b's bytes back.
func (b *body) release(n int64) {
	if n == 0 {
		return
	}
	bg := b.bg
	bg.mu.Lock()
	bg.releaseLocked(b, n)
	bg.dispatch()
	bg.mu.Unlock()
}

func (bg *budget) releaseLocked(b *body, n int64) {
	b.held -= n
	b.g.held -= n
	bg.free += n
	if d := min(n, b.freeing); d > 0 {
		b.freeing -= d
		b.g.freeing -= d
		if w := b.cutFor; w != nil {
			w.coming -= d
			if r := min(d, w.need-w.reserved); !w.gone && r > 0 {
				w.reserved += r
				bg.reserved += r
			}
		}
	}
}

// end releases everything b holds and forgets it.
func (b *body) end() {
	bg := b.bg
	bg.mu.Lock()
	bg.releaseLocked(b, b.held)
	delete(bg.bodies, b)
	b.g.n--
	if b.g.n == 0 {
		delete(bg.groups, b.g.key)
	}
	bg.dispatch()
	bg.mu.Unlock()
}
