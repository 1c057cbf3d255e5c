package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/internal/config"
	"github.com/activitybridge/activitybridge/internal/outbox"
	"github.com/activitybridge/activitybridge/internal/receiver"
	"github.com/activitybridge/activitybridge/internal/route"
)

// failingStore is a store whose writes fail with err while it is set.
type failingStore struct {
	outbox.Store
	err atomic.Pointer[error]
}

func (s *failingStore) Enqueue(ctx context.Context, activity, state string, jobs []outbox.Job) (int, error) {
	if e := s.err.Load(); e != nil {
		return 0, *e
	}
	return s.Store.Enqueue(ctx, activity, state, jobs)
}

// TestReadyAfterFailedWrites: /readyz answers 503 once a store write fails for want of space (or I/O),
// says why in the log once, and answers 200 again after a write succeeds, or a probe write in the data
// folder does (no webhook arrives while the pod is not ready).
func TestReadyAfterFailedWrites(t *testing.T) {
	table, err := route.Parse("*/* -> console")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a, err := New(&config.Config{Store: "memory", Table: table, MaxAge: time.Hour, PublicConsoleURL: "https://c.example"},
		zerolog.New(&logs), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	store := &failingStore{Store: a.store}
	a.store = store
	h, err := receiver.NewHandler(receiver.Options{Ready: a.ready}, a.Accept, zerolog.Nop(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	post := func() int {
		n++
		body := fmt.Sprintf(`{"id":"r%d","type":"environment.push","project":"p","state":"complete"}`, n)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/webhook", strings.NewReader(body)))
		return rec.Code
	}
	readyz := func() (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		return rec.Code, rec.Body.String()
	}
	full := error(&os.PathError{Op: "write", Path: "/data/activitybridge.db", Err: syscall.ENOSPC})
	failed := strings.Count // of log lines

	if got := post(); got != 202 {
		t.Fatalf("webhook = %d, want 202", got)
	}
	if code, body := readyz(); code != 200 {
		t.Fatalf("readyz before any failure = %d %s, want 200", code, body)
	}

	store.err.Store(&full)
	for range 3 {
		if got := post(); got != 503 {
			t.Errorf("webhook while the disk is full = %d, want 503", got)
		}
	}
	if code, body := readyz(); code != 503 || !strings.Contains(body, "no space left on device") {
		t.Errorf("readyz while the disk is full = %d %s, want 503 saying why", code, body)
	}
	if got := failed(logs.String(), "store write failed"); got != 1 {
		t.Errorf("logged the failure %d times, want once:\n%s", got, logs.String())
	}

	cancelled := error(context.Canceled)
	store.err.Store(&cancelled) // not a disk error: it changes nothing
	post()
	if code, _ := readyz(); code != 503 {
		t.Errorf("readyz after a cancelled write = %d, want still 503", code)
	}

	store.err.Store(nil)
	if got := post(); got != 202 {
		t.Errorf("webhook once the disk has room = %d, want 202", got)
	}
	if code, body := readyz(); code != 200 {
		t.Errorf("readyz after a write succeeded = %d %s, want 200", code, body)
	}
	if got := failed(logs.String(), "store writable again"); got != 1 {
		t.Errorf("logged the recovery %d times, want once:\n%s", got, logs.String())
	}

	// With a data folder, a probe write there turns the pod ready without a webhook.
	a.disk.dir = t.TempDir()
	store.err.Store(&full)
	post()
	if code, _ := readyz(); code != 200 {
		t.Errorf("readyz with room in the data folder = %d, want 200 (the probe write succeeds)", code)
	}
	if entries, _ := os.ReadDir(a.disk.dir); len(entries) != 0 {
		t.Errorf("the probe left %d files in the data folder", len(entries))
	}
}

func TestDiskError(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("outbox: enqueue: %w", &os.PathError{Op: "write", Path: "f", Err: syscall.ENOSPC}), true},
		{fmt.Errorf("outbox: %w", &os.PathError{Op: "sync", Path: "f", Err: syscall.EIO}), true},
		{syscall.EDQUOT, true},
		{syscall.EROFS, true},
		{context.DeadlineExceeded, false},
		{outbox.ErrClosed, false},
		{http.ErrServerClosed, false},
	} {
		if got := diskError(tt.err); got != tt.want {
			t.Errorf("diskError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
