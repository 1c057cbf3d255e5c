package receiver

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a budget clock the test moves by hand.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newFakeBudget(total int64) (*budget, *fakeClock) {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	bg := newBudget(total, fairness{window: time.Second, slowBytes: 1000, minAge: 500 * time.Millisecond,
		fairAfter: 500 * time.Millisecond})
	bg.now = c.now
	return bg, c
}

// cutRecorder is a body's cut function that records the call.
type cutRecorder struct{ called atomic.Bool }

func (c *cutRecorder) cut() { c.called.Store(true) }

// acquireAsync runs b.acquire in the background and returns a channel with its result.
func acquireAsync(b *body, n int64, wait time.Duration) <-chan bool {
	ch := make(chan bool, 1)
	go func() { ch <- b.acquire(context.Background(), n, wait) }()
	return ch
}

// waiting reports whether bg has n waiters.
func waitingN(bg *budget, n int) bool {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	return len(bg.waiters) == n
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestBudgetGivesFreedMemoryToThePoorestAddress(t *testing.T) {
	bg, _ := newFakeBudget(100 * bodyChunk)
	bg.fair.slowBytes, bg.fair.fairAfter = 0, time.Hour // no cutting off here
	hog := bg.begin("10.0.0.1", func() {})
	if !hog.acquire(context.Background(), 100*bodyChunk, time.Second) {
		t.Fatal("the first body did not get memory from an empty budget")
	}
	same := bg.begin("10.0.0.1", func() {})
	sameGot := acquireAsync(same, 10*bodyChunk, 10*time.Second)
	waitUntil(t, "the first waiter", func() bool { return waitingN(bg, 1) })
	other := bg.begin("10.0.0.2", func() {})
	otherGot := acquireAsync(other, 10*bodyChunk, 10*time.Second)
	waitUntil(t, "the second waiter", func() bool { return waitingN(bg, 2) })

	hog.release(10 * bodyChunk)
	if !<-otherGot {
		t.Fatal("the address holding nothing did not get the freed memory")
	}
	if !waitingN(bg, 1) {
		t.Error("the hog's own address got memory too, want it still waiting")
	}
	hog.end()
	if !<-sameGot {
		t.Error("the waiter of the hog's address did not get memory once the hog ended")
	}
	same.end()
	other.end()
	if bg.free != 100*bodyChunk || len(bg.groups) != 0 || len(bg.bodies) != 0 {
		t.Errorf("after every body ended: free %d, groups %d, bodies %d; want 100, 0, 0", bg.free, len(bg.groups), len(bg.bodies))
	}
}

func TestBudgetCutsOffSlowBodies(t *testing.T) {
	for _, tt := range []struct {
		name     string
		slowAddr string
		sent     int           // bytes the holder received in the last second
		age      time.Duration // how long it has been reading
		wantCut  bool
	}{
		{"a slow body of another address", "10.0.0.1", 10, time.Second, true},
		{"a slow body of the same address", "10.0.0.2", 10, time.Second, true},
		{"a body that is not slow", "10.0.0.2", 5000, time.Second, false},
		{"a body too young to judge", "10.0.0.2", 10, 100 * time.Millisecond, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bg, clock := newFakeBudget(100 * bodyChunk)
			bg.fair.fairAfter = time.Hour // only the slow rule
			var rec cutRecorder
			holder := bg.begin(tt.slowAddr, rec.cut)
			holder.acquire(context.Background(), 100*bodyChunk, time.Second)
			clock.add(tt.age)
			holder.progress(tt.sent)
			asker := bg.begin("10.0.0.2", func() {})
			got := acquireAsync(asker, 50*bodyChunk, 200*time.Millisecond)
			if !tt.wantCut {
				if <-got || rec.called.Load() {
					t.Fatal("the holder was cut off, want the asker to wait and give up")
				}
				holder.end()
				asker.end()
				return
			}
			waitUntil(t, "the cut-off", rec.called.Load)
			if !holder.evicted.Load() {
				t.Error("the holder is not marked cut off")
			}
			// Another waiter arriving now does not get the memory given back for the asker.
			third := bg.begin("10.0.0.3", func() {})
			thirdGot := acquireAsync(third, 60*bodyChunk, 10*time.Second)
			waitUntil(t, "the third waiter", func() bool { return waitingN(bg, 2) })
			holder.end()
			if !<-got {
				t.Error("the asker did not get the memory of the body cut off for it")
			}
			asker.end()
			if !<-thirdGot {
				t.Error("the third waiter did not get memory once the asker ended")
			}
			third.end()
		})
	}
}

func TestBudgetFairShare(t *testing.T) {
	bg, clock := newFakeBudget(100 * bodyChunk)
	var fastCut, ownCut cutRecorder
	rich := bg.begin("10.0.0.1", fastCut.cut) // a fast sender holding everything
	rich.acquire(context.Background(), 100*bodyChunk, time.Second)
	clock.add(time.Second)
	rich.progress(1 << 20)

	// Its own address cannot take a fast body's memory.
	own := bg.begin("10.0.0.1", ownCut.cut)
	if own.acquire(context.Background(), 10*bodyChunk, 50*time.Millisecond) {
		t.Fatal("a body of the same address got memory held by a fast body")
	}
	own.end()

	// Another address waits fairAfter, then takes it: 10.0.0.1 holds more than half.
	asker := bg.begin("10.0.0.2", func() {})
	got := acquireAsync(asker, 10*bodyChunk, 10*time.Second)
	waitUntil(t, "the waiter", func() bool { return waitingN(bg, 1) })
	time.Sleep(20 * time.Millisecond)
	if fastCut.called.Load() {
		t.Fatal("the fast body was cut off before the asker waited fairAfter")
	}
	clock.add(time.Second) // fairAfter has passed for the asker; the rich body keeps sending
	rich.progress(1 << 20)
	waitUntil(t, "the fair-share cut-off", fastCut.called.Load)
	rich.end()
	if !<-got {
		t.Error("the asker did not get memory")
	}
	asker.end()
}
