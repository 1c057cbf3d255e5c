package activity_test

import (
	"encoding/json"
	"testing"

	"github.com/activitybridge/activitybridge/internal/fixture"
)

type plainAct struct {
	ID, Type, Project, State string
	Result                   *string
	Environments             []string
	CreatedAt                *string `json:"created_at"`
	Parameters               map[string]any
	Payload                  struct {
		User        struct{ ID, DisplayName string }
		Environment *struct{ Name, Type, HeadCommit string }
		Commits     []struct {
			SHA, Message string
			Author       struct {
				Name, Email string
				Date        any
			}
		}
		Deployment *struct {
			Routes map[string]struct {
				Type, Upstream, To string
				Primary            bool
			}
		}
	}
}

func BenchmarkAltPlainStruct(b *testing.B) {
	for _, name := range benchBodies {
		body := fixture.Bytes(name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var a plainAct
				if err := json.Unmarshal(body, &a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAltMap(b *testing.B) {
	for _, name := range benchBodies {
		body := fixture.Bytes(name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var a map[string]any
				if err := json.Unmarshal(body, &a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAltTokens(b *testing.B) {
	for _, name := range benchBodies {
		body := fixture.Bytes(name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				dec := json.NewDecoder(bytesReader(body))
				for {
					_, err := dec.Token()
					if err != nil {
						break
					}
				}
			}
		})
	}
}
