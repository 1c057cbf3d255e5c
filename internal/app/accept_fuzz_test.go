package app_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/internal/receiver"
)

// FuzzAccept sends any body through App.Accept (decode, route, render, persist): it never panics, and
// either queues one job (one console route) under the activity id, queues nothing with ErrDuplicate (the
// same activity and state again), or fails with receiver.ErrBadRequest, which the handler answers 400.
// Nothing else (no 500, no 503 with a memory store).
func FuzzAccept(f *testing.F) {
	for _, name := range fixture.Names() {
		f.Add(fixture.Bytes(name))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "badinput", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(nested(200))
	a := newApp(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		id, queued, err := a.Accept(context.Background(), body)
		if errors.Is(err, receiver.ErrDuplicate) {
			if id == "" || queued != 0 {
				t.Errorf("duplicate: id %q, queued %d; want the id and 0", id, queued)
			}
			return
		}
		if err != nil {
			if !errors.Is(err, receiver.ErrBadRequest) {
				t.Fatalf("Accept error %v is not a bad request", err)
			}
			if queued != 0 {
				t.Errorf("failed Accept queued %d jobs", queued)
			}
			return
		}
		if id == "" {
			t.Error("Accept succeeded without an activity id")
		}
		if queued != 1 {
			t.Errorf("queued = %d, want 1", queued)
		}
	})
}
