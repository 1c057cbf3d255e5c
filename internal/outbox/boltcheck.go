package outbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"strings"
	"syscall"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrDamaged is wrapped by the error OpenBolt returns for a file that bbolt cannot open or that fails its
// consistency check.
var ErrDamaged = errors.New("damaged")

// openChecked is bolt.Open followed by a consistency check of the whole file. bbolt panics, or faults on
// a page address, when it meets some damaged pages (a truncated file, a torn write, a disk error): both
// come back as an error wrapping ErrDamaged that names the file and says what to do, never as a panic.
func openChecked(path string, mode os.FileMode, opts *bolt.Options) (db *bolt.DB, err error) {
	// Faults on the file's mapped pages become panics in this goroutine, so that they can be recovered.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				_ = db.Close()
			}
			db, err = nil, damaged(path, fmt.Errorf("%v", r))
		}
	}()
	db, err = bolt.Open(path, mode, opts)
	if err != nil {
		if notDamage(err) {
			return nil, err
		}
		return nil, damaged(path, err)
	}
	if err := checkDB(db); err != nil {
		_ = db.Close()
		return nil, damaged(path, err)
	}
	return db, nil
}

// notDamage reports whether an open error says something other than that the file is damaged: locked,
// not allowed, missing folder, disk full ...
func notDamage(err error) bool {
	var errno syscall.Errno
	return errors.Is(err, bolterrors.ErrTimeout) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, fs.ErrNotExist) || errors.As(err, &errno)
}

// checkDB reads every key of every bucket here, where a fault on a bad page address is recovered, and
// then runs bbolt's own check (freelist, page types, ordering, reachability), whose goroutine only
// recovers panics: the walk has touched the same pages first.
func checkDB(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		var walk func(b *bolt.Bucket) error
		walk = func(b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if v == nil {
					if child := b.Bucket(k); child != nil {
						return walk(child)
					}
				}
				return nil
			})
		}
		if err := tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) }); err != nil {
			return err
		}
		var first error
		n := 0
		for err := range tx.Check() {
			if first == nil {
				first = err
			}
			n++
		}
		if n > 1 {
			return fmt.Errorf("%w (and %d more problems)", first, n-1)
		}
		return first
	})
}

// damaged is the one-line error for a damaged file: what bbolt found and the way out. OpenBolt's prefix
// names the file first.
func damaged(path string, cause error) error {
	reason := strings.Join(strings.Fields(cause.Error()), " ") // one line, whatever the panic said
	if len(reason) > 200 {
		reason = reason[:200] + "…"
	}
	return fmt.Errorf("the file is %w (%s); to start, move it aside (mv %s %s.damaged): the notices it holds are lost, "+
		"unless you repair it (bbolt check, bbolt compact) and put it back: then its pending notices are sent and "+
		"`activitybridge deadletters list` lists its dead letters", ErrDamaged, reason, path, path)
}
