package outbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/notifier"
)

// damagedFiles writes a bolt file with some notices, then copies of it damaged in the ways disks and
// crashes damage files; it returns their paths by name.
func damagedFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	s, err := OpenBolt(good)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		mustEnqueue(t, s, fmt.Sprint("act", i), "pending",
			Job{Dest: "console", Msg: notifier.Message{Title: strings.Repeat("x", 2000)}})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	files := map[string][]byte{
		"not a bolt file": []byte("this is not a database\n"),
		"one page":        orig[:page],
	}
	for _, n := range []int{8 << 10, 16 << 10, 64 << 10, 128 << 10, 256 << 10} {
		files[fmt.Sprintf("truncated to %d KiB", n>>10)] = orig[:n]
	}
	fill := func(name string, at, n int, b byte) {
		d := append([]byte(nil), orig...)
		for i := at; i < at+n; i++ {
			d[i] = b
		}
		files[name] = d
	}
	fill("both meta pages zeroed", 0, 2*page, 0)
	fill("pages 2-9 zeroed", 2*page, 8*page, 0)
	fill("pages 2-9 set to 0xff", 2*page, 8*page, 0xff)
	fill("page headers of pages 4-40 garbled", 4*page, 1, 0x7f)
	for p := 4; p < 40; p++ {
		files["page headers of pages 4-40 garbled"][p*page+8] ^= 0x5a // the page's flags
	}
	out := map[string]string{"good": good}
	for name, b := range files {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".db")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out[name] = p
	}
	return out
}

// TestOpenBoltDamaged: a damaged file never panics OpenBolt; it fails with one line that names the file
// and the way out, and a good file still opens.
func TestOpenBoltDamaged(t *testing.T) {
	for name, path := range damagedFiles(t) {
		t.Run(name, func(t *testing.T) {
			s, err := OpenBolt(path) // a panic here fails the test
			if name == "good" {
				if err != nil {
					t.Fatalf("OpenBolt(good file) = %v", err)
				}
				if n := pending(t, s); n != 300 {
					t.Errorf("pending = %d, want 300", n)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatal("OpenBolt() = nil error, want the file reported as damaged")
			}
			msg := err.Error()
			if !errors.Is(err, ErrDamaged) || !strings.Contains(msg, path) || !strings.Contains(msg, "move it aside") ||
				!strings.Contains(msg, "deadletters") || strings.Contains(msg, "\n") {
				t.Errorf("OpenBolt() error = %q; want one line wrapping ErrDamaged, naming the file and the way out", msg)
			}
		})
	}
	t.Run("locked is not damaged", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a.db")
		s, err := OpenBolt(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, err = OpenBolt(path, WithLockTimeout(50*time.Millisecond))
		if err == nil || errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "locked") {
			t.Errorf("second OpenBolt() = %v; want the locked error, not damaged", err)
		}
	})
}
