package activity_test

import (
	"encoding/json"
	"testing"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/fixture"
)

// benchBodies are the 14 KB documentation push and the ~1.3 MB push-big (40 commits, 200 routes,
// 1 MiB log). The goal: Decode within about 3x json.Valid on the same bytes.
var benchBodies = []string{"environment.push", "push-big"}

func BenchmarkDecode(b *testing.B) {
	for _, name := range benchBodies {
		body := fixture.Bytes(name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := activity.Decode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkValid(b *testing.B) {
	for _, name := range benchBodies {
		body := fixture.Bytes(name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if !json.Valid(body) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
