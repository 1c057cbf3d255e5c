package receiver

import (
	"math/bits"
	"sync"
)

// Body buffers are pooled by capacity class, so that a steady flow of large bodies (a 1.3 MB push
// carries its whole build log) reuses memory instead of allocating, zeroing and collecting a fresh
// buffer per request. Classes go up in quarter steps between powers of two from 64 KiB (64, 80, 96,
// 112, 128, 160 ... KiB), so a buffer is at most 25% larger than asked. A pool's buffers are freed by
// the garbage collector when they go unused for two cycles, so memory goes back after a burst.
const (
	minClassShift = 16 // 64 KiB, bodyChunk
	bodyClasses   = 4 * (31 - minClassShift)
)

var bodyPools [bodyClasses]sync.Pool

// classCap is the capacity of class i.
func classCap(i int) int {
	base := 1 << (minClassShift + i/4)
	return base + i%4*(base/4)
}

// classFor is the smallest class whose capacity holds n bytes.
func classFor(n int) int {
	if n <= bodyChunk {
		return 0
	}
	e := bits.Len(uint(n-1)) - 1 // 1<<e < n <= 2<<e
	base := 1 << e
	step := base / 4
	return (e-minClassShift)*4 + (n-base+step-1)/step
}

// floorClass is the largest class whose capacity is at most c, or -1 when c is under the smallest.
func floorClass(c int) int {
	if c < bodyChunk {
		return -1
	}
	e := bits.Len(uint(c)) - 1 // 1<<e <= c < 2<<e
	base := 1 << e
	return (e-minClassShift)*4 + (c-base)/(base/4)
}

// getBuffer returns an empty buffer with a capacity of at least n and at most limit (limit >= n):
// a pooled one of n's class when the class fits under limit, else one of exactly limit bytes.
func getBuffer(n, limit int) []byte {
	i := classFor(n)
	if i >= bodyClasses || classCap(i) > limit {
		return make([]byte, 0, limit)
	}
	if p, ok := bodyPools[i].Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, classCap(i))
}

// putBuffer gives b back to the pool of the largest class its capacity covers. The caller must not
// use b (or anything sliced from it) afterwards.
func putBuffer(b []byte) {
	i := floorClass(cap(b))
	if i < 0 || i >= bodyClasses {
		return
	}
	b = b[:0]
	bodyPools[i].Put(&b)
}
