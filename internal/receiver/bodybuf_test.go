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
		{64<<10 + 1, limit, 128 << 10},
		{1282761, limit, 2 << 20},
		{32 << 20, limit, 32 << 20},
		{limit, limit, limit},           // the class (64 MiB) would pass the limit: exactly the limit
		{100, 1000, 1000},               // a cap under one class
		{3 << 20, 3<<20 + 5, 3<<20 + 5}, // class 4 MiB is over the limit
	}
	for _, tt := range tests {
		b := getBuffer(tt.n, tt.limit)
		if len(b) != 0 || cap(b) != tt.wantCap {
			t.Errorf("getBuffer(%d, %d): len %d cap %d; want len 0 cap %d", tt.n, tt.limit, len(b), cap(b), tt.wantCap)
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
