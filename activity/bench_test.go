package activity_test

import (
	"encoding/json"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

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

// BenchmarkValid is the cost of merely scanning the bytes: encoding/json's json.Valid (the yardstick)
// and, as /jsontext, the validation of the library Decode is built on.
func BenchmarkValid(b *testing.B) {
	for _, name := range benchBodies {
		body := fixture.Bytes(name)
		b.Run(name+"/jsontext", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if !jsontext.Value(body).IsValid(jsontext.AllowInvalidUTF8(true)) {
					b.Fatal("invalid")
				}
			}
		})
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
