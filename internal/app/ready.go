package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/rs/zerolog"
)

// storeHealth remembers whether the last write to the store failed for want of space or for an I/O
// error, so that /readyz turns 503 and Kubernetes stops routing webhooks to a pod that cannot persist
// them. It knows nothing of the store's kind: it reads the error a write returned.
type storeHealth struct {
	log zerolog.Logger
	dir string // where the store writes; "" for a store without files

	mu     sync.Mutex
	failed error // the last write's error, while it is a disk error
}

// diskError reports whether err says the disk cannot take writes: full, over quota, read-only or failing.
func diskError(err error) bool {
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EROFS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// record notes the outcome of one store write; it logs when the store turns unwritable or writable again.
func (h *storeHealth) record(err error) {
	if err != nil && !diskError(err) {
		return // a cancelled context or a closed store says nothing about the disk
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err != nil && h.failed == nil:
		h.log.Error().Err(err).Msg("store write failed: the disk is full or failing; /readyz answers 503 until a write succeeds")
	case err == nil && h.failed != nil:
		h.log.Info().Msg("store writable again; /readyz answers 200")
	}
	h.failed = err
}

// check returns the last write's disk error, unless a probe write in the store's folder now succeeds:
// while the pod is not ready no webhook arrives to try again, so the probe is what turns it ready.
func (h *storeHealth) check() error {
	h.mu.Lock()
	failed := h.failed
	h.mu.Unlock()
	if failed == nil {
		return nil
	}
	if h.dir != "" {
		if err := probeWrite(h.dir); err == nil {
			h.record(nil)
			return nil
		}
	}
	return fmt.Errorf("the last store write failed: %w", failed)
}

// probeWrite writes and syncs 64 KiB (a few of the store's pages) in dir, then removes it.
func probeWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".readyz-probe-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, 64<<10))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// storeDir is the folder the store writes in, for probeWrite.
func storeDir(store, dataDir string) string {
	if store != "" && store != "bolt" {
		return ""
	}
	return filepath.Clean(dataDir)
}
