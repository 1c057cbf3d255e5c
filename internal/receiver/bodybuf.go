package receiver

import (
	"math/bits"
	"sync"
)

// Body buffers are pooled by capacity class, bodyChunk << i, so that a steady flow of large bodies
// (a 1.3 MB push carries its whole build log) reuses memory instead of allocating, zeroing and
// collecting a fresh buffer per request. A pool's buffers are freed by the garbage collector when they
// go unused for two cycles, so memory goes back after a burst.
const bodyClasses = 16 // 64 KiB … 2 GiB

var bodyPools [bodyClasses]sync.Pool

// classCap is the capacity of class i.
func classCap(i int) int { return bodyChunk << i }

// classFor is the smallest class whose capacity holds n bytes.
func classFor(n int) int {
	if n <= bodyChunk {
		return 0
	}
	return bits.Len(uint(n-1)) - bits.Len(uint(bodyChunk-1))
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
	c := cap(b)
	if c < bodyChunk {
		return
	}
	i := bits.Len(uint(c)) - bits.Len(uint(bodyChunk)) // floor class
	if i >= bodyClasses {
		return
	}
	b = b[:0]
	bodyPools[i].Put(&b)
}
