// Package pgtest runs a throwaway PostgreSQL server for tests and benchmarks: initdb in a temporary
// folder, the server listening on a unix socket in that folder only, fsync off, stopped and removed at
// the end. PostgreSQL refuses to run as root, so when the process is root the server runs as the
// unprivileged user "postgres" (created when missing).
//
// In tests, share one server per package run: wrap m in TestMain and ask for a fresh database per test.
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Wrap(m).Run()) }
//
//	url := pgtest.URL(t) // skips (locally) or fails (CI=true) when PostgreSQL is not installed
//
// The server is started by the first URL call, so packages whose tests do not ask for it pay nothing.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotInstalled is returned by Start when no PostgreSQL server binaries are found.
var ErrNotInstalled = errors.New("pgtest: PostgreSQL is not installed (no initdb and postgres in /usr/lib/postgresql/*/bin or on PATH); install the Debian package postgresql")

// Server is one running throwaway PostgreSQL server.
type Server struct {
	dir     string // temporary folder: data/ and the socket
	bin     string // folder of initdb and postgres
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	log     *bytes.Buffer
	n       atomic.Int64 // databases created
}

// Option changes how Start runs the server.
type Option func(*[]string)

// Durable keeps PostgreSQL's defaults for durability (fsync, synchronous_commit and full_page_writes on),
// for benchmarks that compare the cost of a commit with the bolt store's. Tests do not need it.
func Durable() Option {
	return func(args *[]string) {
		*args = slices.DeleteFunc(*args, func(a string) bool {
			return strings.HasPrefix(a, "fsync=") || strings.HasPrefix(a, "synchronous_commit=") || strings.HasPrefix(a, "full_page_writes=")
		})
	}
}

// Start initialises and starts a server in a new temporary folder; Stop stops it and removes the folder.
func Start(ctx context.Context, opts ...Option) (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	// The socket path must stay under 108 bytes: prefer a short /tmp path over a long TMPDIR.
	base := os.TempDir()
	if len(base) > 60 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{dir: dir, bin: bin, done: make(chan struct{}), log: &bytes.Buffer{}}
	fail := func(err error) (*Server, error) {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("pgtest: %w", err))
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fail(fmt.Errorf("pgtest: %w", err))
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	initdb.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LC_ALL=C"}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgtest: initdb: %v\n%s", err, out))
	}
	settings := []string{
		"listen_addresses=",
		"unix_socket_directories=" + dir,
		"port=5432",
		"fsync=off",
		"synchronous_commit=off",
		"full_page_writes=off",
		"max_connections=300",
		"shared_buffers=32MB",
		"log_min_messages=warning",
		"log_min_error_statement=panic",
	}
	for _, o := range opts {
		o(&settings)
	}
	args := []string{"-D", data}
	for _, kv := range settings {
		args = append(args, "-c", kv)
	}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	// Pdeathsig: a test binary killed by a timeout does not leave the server behind (Go sets it after
	// switching user, so the switch does not clear it).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	s.cmd.Dir = dir
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LC_ALL=C"}
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return fail(fmt.Errorf("pgtest: starting postgres: %w", err))
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, s.dsn("postgres"))
		if err == nil {
			_ = conn.Close(ctx)
			return s, nil
		}
		select {
		case <-s.done:
			return fail(fmt.Errorf("pgtest: postgres exited during start-up: %v\n%s", s.waitErr, s.log.String()))
		case <-ctx.Done():
			_ = s.Stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.Stop()
			return nil, fmt.Errorf("pgtest: postgres did not accept connections within 30s: %v", err)
		}
	}
}

// dsn is the key=value connection string of database db.
func (s *Server) dsn(db string) string {
	return fmt.Sprintf("host=%s port=5432 user=postgres dbname=%s sslmode=disable", s.dir, db)
}

// URL returns the postgres:// URL of database db on s (a unix socket, user postgres, no password).
func (s *Server) URL(db string) string {
	q := url.Values{"host": {s.dir}, "user": {"postgres"}, "sslmode": {"disable"}}
	return "postgres:///" + db + "?" + q.Encode()
}

// CreateDatabase creates a new empty database and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	name := "t" + strconv.FormatInt(s.n.Add(1), 10)
	conn, err := pgx.Connect(ctx, s.dsn("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
		return "", fmt.Errorf("pgtest: creating database %s: %w", name, err)
	}
	return s.URL(name), nil
}

// Stop stops the server at once (its data is thrown away) and removes its folder.
func (s *Server) Stop() error {
	if s.cmd != nil && s.cmd.Process != nil {
		// SIGQUIT is PostgreSQL's immediate shutdown: nothing to keep.
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	return os.RemoveAll(s.dir)
}

// findBin returns the folder holding initdb and postgres: the newest /usr/lib/postgresql/N/bin, else
// the folder initdb on PATH really lives in (Debian links only a few tools into PATH).
func findBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(r))
		}
	}
	for _, d := range dirs {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// credential returns the user to run PostgreSQL as: nil (ourselves) unless we are root, then the user
// postgres, which is created when missing.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("pgtest: running as root and the user postgres is missing; creating it: %v: %s", err, strings.TrimSpace(string(out)))
		}
		if u, err = user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgtest: uid of postgres: %w", err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgtest: gid of postgres: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// The server shared by the tests of one package run.
var shared struct {
	mu      sync.Mutex
	wrapped bool
	started bool
	srv     *Server
	err     error
}

// TestingM is what TestMain's m offers (and what goleak.VerifyTestMain takes).
type TestingM interface {
	Run() int
}

type wrappedM struct{ m TestingM }

func (w wrappedM) Run() int {
	code := w.m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest: stopping the server:", err)
		}
		shared.srv = nil
	}
	return code
}

// Wrap returns m whose Run also stops the shared server (when a test started it) once the tests
// are done. Use it in TestMain: os.Exit(pgtest.Wrap(m).Run()), or goleak.VerifyTestMain(pgtest.Wrap(m)).
func Wrap(m TestingM) TestingM {
	shared.mu.Lock()
	shared.wrapped = true
	shared.mu.Unlock()
	return wrappedM{m}
}

// Available reports whether tests can have a server (starting the shared one if needed), and why not.
func Available() (bool, error) {
	_, err := sharedServer()
	return err == nil, err
}

func sharedServer() (*Server, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.wrapped {
		return nil, errors.New("pgtest: the package's TestMain must run the tests through pgtest.Wrap(m), which stops the server")
	}
	if !shared.started {
		shared.started = true
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shared.srv, shared.err = Start(ctx)
	}
	return shared.srv, shared.err
}

// URL returns the URL of a new, empty database on the package's shared server. When PostgreSQL is not
// installed the test is skipped, or fails when the environment variable CI is true.
func URL(t testing.TB) string {
	t.Helper()
	srv, err := sharedServer()
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skipf("skipped: %v (under CI=true this fails)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := srv.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
