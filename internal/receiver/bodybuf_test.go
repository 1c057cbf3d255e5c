package receiver

import "testing"

func TestBodyBufferClasses(t *testing.T) {
	const limit = 32<<20 + 1
	tests := []struct {
		n, limit, wantCap int
	}{
		{1, limit, 64 << 10},
		{14031, limit, 64 << 10},
		{64 << 10, limit, 64 << 10},
		{64<<10 + 1, limit, 80 << 10},
		{80<<10 + 1, limit, 96 << 10},
		{128 << 10, limit, 128 << 10},
		{128<<10 + 1, limit, 160 << 10},
		{1282761, limit, 1280 << 10},
		{1280<<10 + 1, limit, 1536 << 10},
		{32 << 20, limit, 32 << 20},
		{limit, limit, limit},             // the class (64 MiB) would pass the limit: exactly the limit
		{100, 1000, 1000},                 // a cap under one class
		{3<<20 + 1, 3<<20 + 5, 3<<20 + 5}, // class 3.5 MiB is over the limit
	}
	for _, tt := range tests {
		b := getBuffer(tt.n, tt.limit)
		if len(b) != 0 || cap(b) != tt.wantCap {
			t.Errorf("getBuffer(%d, %d): len %d cap %d; want len 0 cap %d", tt.n, tt.limit, len(b), cap(b), tt.wantCap)
		}
	}
}

// Every class's capacity maps back to the class, and every size gets the smallest class that holds it.
func TestBodyBufferClassesConsistent(t *testing.T) {
	for i := range bodyClasses {
		c := classCap(i)
		if classFor(c) != i || floorClass(c) != i {
			t.Errorf("class %d (cap %d): classFor = %d, floorClass = %d; want %d", i, c, classFor(c), floorClass(c), i)
		}
		if i > 0 && (classFor(c-1) != i || floorClass(c-1) != i-1) {
			t.Errorf("cap %d - 1: classFor = %d, floorClass = %d; want %d, %d", c, classFor(c-1), floorClass(c-1), i, i-1)
		}
		if i > 0 && c > classCap(i-1)*5/4+1 {
			t.Errorf("class %d (cap %d) is more than 25%% over class %d (cap %d)", i, c, i-1, classCap(i-1))
		}
	}
}

// A buffer given back is handed out again for a request of its class, emptied.
func TestBodyBufferReuse(t *testing.T) {
	b := getBuffer(300<<10, 1<<30)
	b = append(b, "secret"...)
	putBuffer(b)
	// sync.Pool may drop an item at any time (always under the race detector), so try a few times.
	for range 100 {
		c := getBuffer(300<<10, 1<<30)
		if len(c) != 0 {
			t.Fatalf("reused buffer has length %d; want 0", len(c))
		}
		if cap(c) == cap(b) && &c[:1][0] == &b[:1][0] {
			return
		}
		putBuffer(c)
	}
	t.Skip("the pool never handed the buffer back (allowed by sync.Pool)")
}
