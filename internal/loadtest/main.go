// Command loadtest is the load benchmark of the real activitybridge binary against a bare net/http receiver
// (BENCHMARKS.md). It builds the binary (or takes -bin), runs it with the bolt store in a temporary data
// folder (or each store of -store, e.g. -store bolt,postgres: one bridge per store in the same run; postgres
// runs on a throwaway local PostgreSQL server with its durability defaults, fsync on) and one slack-webhook destination on a closed 127.0.0.1 port (so the notices stay queued and only
// ingestion is measured), runs itself as the bare receiver in a second process (-bare), and drives both with
// the same signed webhook bodies at the same concurrency, in alternating rounds. It prints requests per
// second, p50 and p99 latency, the bridge/bare throughput ratio and both processes' peak RSS (VmHWM).
//
//	go run ./internal/loadtest -body push -c 32 -d 10s -rounds 3
//	go run ./internal/loadtest -body big -c 16 -d 10s -rounds 3
//	go run ./internal/loadtest -body push -c 32 -d 5s -rounds 3 -store bolt,postgres
//
// Every target is on 127.0.0.1, and every round is bounded in time and in requests.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/activitybridge/activitybridge/internal/loadtest/signed"
	"github.com/activitybridge/activitybridge/internal/pgtest"
)

// sharedKey is the JWS shared key given to the bridge; it is valid base64url, so the bridge verifies with the
// decoded form, the first one it tries.
const sharedKey = "YWN0aXZpdHlicmlkZ2UtbG9hZC10ZXN0LWtleS0x"

// project is the project of the fixtures, which the bridge's route matches.
const project = "abcdefgh1234567"

type options struct {
	body        string
	concurrency int
	duration    time.Duration
	rounds      int
	warmup      time.Duration
	maxRequests int
	bin         string
	keep        bool
	cpuprofile  string
	store       string
}

func main() {
	var o options
	bare := flag.String("bare", "", "run as the bare receiver on this address (used by the program itself)")
	flag.StringVar(&o.body, "body", "push", "request body: push (the 14 KB documentation push) or big (the ~1.3 MB push-big)")
	flag.IntVar(&o.concurrency, "c", 0, "concurrent clients (default 32 for push, 16 for big)")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "duration of each measured round and target")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; each round measures both targets, alternating which goes first")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up of each target before the first round")
	flag.IntVar(&o.maxRequests, "max", 500_000, "upper bound on the requests of one round and target")
	flag.StringVar(&o.bin, "bin", "", "activitybridge binary to run (default: go build ./cmd/activitybridge into a temp folder)")
	flag.StringVar(&o.store, "store", "bolt", "the bridge's BRIDGE_STORE: bolt (the default, durable), postgres (a throwaway local server, fsync on) or memory (to see what the fsyncs cost); a comma-separated list runs one bridge per store in the same rounds")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp folder (bridge log, bolt file) and print its path")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the bridge during its first round to this file (builds the bridge with -tags pprof; read it with go tool pprof -top FILE)")
	flag.Parse()
	if *bare != "" {
		if err := serveBare(*bare); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest -bare:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	name := map[string]string{"push": "environment.push", "big": "push-big"}[o.body]
	if name == "" {
		return fmt.Errorf("-body %q: want push or big", o.body)
	}
	if o.concurrency <= 0 {
		o.concurrency = map[string]int{"push": 32, "big": 16}[o.body]
	}
	if o.rounds < 1 || o.rounds > 20 || o.duration <= 0 || o.duration > 5*time.Minute {
		return errors.New("-rounds must be 1..20 and -d within (0, 5m]")
	}
	dir, err := os.MkdirTemp("", "activitybridge-load-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("temp folder:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if o.bin == "" {
		o.bin = filepath.Join(dir, "activitybridge")
		args := []string{"build", "-o", o.bin}
		if o.cpuprofile != "" {
			args = append(args, "-tags", "pprof")
		}
		build := exec.CommandContext(ctx, "go", append(args, "github.com/activitybridge/activitybridge/cmd/activitybridge")...)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/activitybridge: %w", err)
		}
	}
	body, err := signed.New(name, sharedKey)
	if err != nil {
		return err
	}

	pprofAddr := ""
	if o.cpuprofile != "" {
		if pprofAddr, err = freeAddr(); err != nil {
			return err
		}
	}
	stores := strings.Split(o.store, ",")
	var bridges []*proc
	for i, store := range stores {
		dbURL := ""
		if store == "postgres" {
			srv, err := pgtest.Start(ctx, pgtest.Durable())
			if err != nil {
				return fmt.Errorf("-store postgres: %w", err)
			}
			defer srv.Stop()
			if dbURL, err = srv.CreateDatabase(ctx); err != nil {
				return err
			}
		}
		label := "bridge"
		if len(stores) > 1 {
			label = store
		}
		profileAt := pprofAddr
		if i > 0 {
			profileAt = ""
		}
		bridge, err := startBridge(ctx, o.bin, dir, label, store, dbURL, profileAt)
		if err != nil {
			return err
		}
		defer bridge.stop()
		bridges = append(bridges, bridge)
	}
	bridge := bridges[0]
	bare, err := startBare(ctx)
	if err != nil {
		return err
	}
	defer bare.stop()

	fmt.Printf("body %s (%d bytes), %d clients, %d rounds x %s per target, store %s, %d CPUs\n",
		name, body.Len(len(nextID())), o.concurrency, o.rounds, o.duration, o.store, numCPU())
	targets := append(slices.Clone(bridges), bare)
	for _, t := range targets {
		if o.warmup > 0 {
			if _, err := drive(ctx, t, body, o.concurrency, o.warmup, o.maxRequests); err != nil {
				return fmt.Errorf("warm-up of %s: %w", t.name, err)
			}
		}
	}
	all := map[string][]result{}
	for r := range o.rounds {
		// Each round starts with another target, so that no store always runs first (or last).
		order := append(slices.Clone(targets[r%len(targets):]), targets[:r%len(targets)]...)
		for _, t := range order {
			var profiled chan error
			if r == 0 && t == bridge && pprofAddr != "" {
				profiled = make(chan error, 1)
				go func() { profiled <- profile(ctx, pprofAddr, o.duration, o.cpuprofile) }()
			}
			res, err := drive(ctx, t, body, o.concurrency, o.duration, o.maxRequests)
			if profiled != nil {
				if perr := <-profiled; perr != nil {
					return fmt.Errorf("CPU profile: %w (was the bridge built with -tags pprof?)", perr)
				}
				fmt.Printf("CPU profile of the bridge in round 1 written to %s (go tool pprof -top %s)\n", o.cpuprofile, o.cpuprofile)
			}
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, t.name, err)
			}
			all[t.name] = append(all[t.name], res)
			fmt.Printf("round %d  %-6s %s\n", r+1, t.name, res)
		}
	}
	fmt.Println()
	for _, t := range targets {
		fmt.Printf("%-6s total  %s\n", t.name, merge(all[t.name]))
	}
	ba := merge(all["bare"])
	for _, b := range bridges {
		br := merge(all[b.name])
		fmt.Printf("ratio %s/bare (requests/s): %.3f  (per round:", b.name, br.rps()/ba.rps())
		for i := range all[b.name] {
			fmt.Printf(" %.3f", all[b.name][i].rps()/all["bare"][i].rps())
		}
		fmt.Println(")")
	}
	for _, t := range targets {
		st, err := procStatus(t.cmd.Process.Pid)
		if err != nil {
			return err
		}
		fmt.Printf("peak RSS (VmHWM) %-6s %.1f MiB  (now: anon %.1f MiB, file-backed %.1f MiB)\n",
			t.name, mib(st["VmHWM"]), mib(st["RssAnon"]), mib(st["RssFile"]))
	}
	for _, b := range bridges {
		if !b.alive() {
			return fmt.Errorf("%s exited during the run; see its log with -keep", b.name)
		}
	}
	return nil
}

// proc is one server under test, running as a child process.
type proc struct {
	name string
	url  string // the webhook URL
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends SIGINT (the bridge shuts down in order), then kills after a bound.
func (p *proc) stop() {
	if !p.alive() {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func start(name, url string, cmd *exec.Cmd) (*proc, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, url: url, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// freeAddr returns a 127.0.0.1 address that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startBridge runs the binary with the store (bolt: under dir), JSON logs at info level into dir/bridge.log (as a
// container would log), and one destination that refuses connections.
// profile fetches a CPU profile from the bridge's pprof listener, covering the middle of a round of
// length d, and writes it to file.
func profile(ctx context.Context, addr string, d time.Duration, file string) error {
	lead := min(time.Second, d/4)
	secs := max(1, int((d-2*lead)/time.Second))
	select {
	case <-time.After(lead):
	case <-ctx.Done():
		return ctx.Err()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /debug/pprof/profile: %s", resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func startBridge(ctx context.Context, bin, dir, name, store, dbURL, pprofAddr string) (*proc, error) {
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	closed, err := freeAddr() // nothing listens here once freeAddr returns
	if err != nil {
		return nil, err
	}
	logName := name + ".log"
	logf, err := os.Create(filepath.Join(dir, logName))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "serve")
	cmd.Env = append(withoutBridgeVars(os.Environ()),
		"BRIDGE_LISTEN="+listen,
		"BRIDGE_ADMIN_LISTEN="+admin,
		"BRIDGE_SHARED_KEY="+sharedKey,
		"BRIDGE_STORE="+store,
		"BRIDGE_DATA_DIR="+filepath.Join(dir, "data-"+store),
		"BRIDGE_ROUTES="+project+"/* -> slack-webhook:load",
		"BRIDGE_SLACK_WEBHOOKS=load=http://"+closed+"/hook",
		"BRIDGE_LOG_LEVEL=info",
		"BRIDGE_LOG_FORMAT=json",
		"ACTIVITYBRIDGE_PPROF_ADDR="+pprofAddr, // served only by a binary built with -tags pprof
	)
	if dbURL != "" {
		cmd.Env = append(cmd.Env, "BRIDGE_DATABASE_URL="+dbURL)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := start(name, "http://"+listen+"/webhook", cmd)
	logf.Close()
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, p, "http://"+listen+"/readyz"); err != nil {
		p.stop()
		return nil, fmt.Errorf("%s: %w (log: %s)", name, err, filepath.Join(dir, logName))
	}
	return p, nil
}

func withoutBridgeVars(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "BRIDGE_") })
}

// startBare runs this program with -bare and reads the address it listens on from its first line.
func startBare(ctx context.Context) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "-bare", "127.0.0.1:0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p, err := start("bare", "", cmd)
	if err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		p.stop()
		return nil, fmt.Errorf("bare receiver did not say where it listens: %q %v", line, err)
	}
	p.url = "http://" + addr + "/webhook"
	return p, nil
}

func waitReady(ctx context.Context, p *proc, url string) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if !p.alive() {
			return errors.New("exited during start-up")
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("not ready after 20s")
}

// serveBare is the floor: a net/http server whose handler reads the body and answers 202, nothing else.
func serveBare(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		}),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// drive sends webhooks to p from c goroutines on kept-alive connections for d (or at most maxRequests in
// all), each with a fresh activity id, and measures each request from send to the end of the answer.
func drive(ctx context.Context, p *proc, body *signed.Body, c int, d time.Duration, maxRequests int) (result, error) {
	tr := &http.Transport{
		MaxIdleConns:        c,
		MaxIdleConnsPerHost: c,
		MaxConnsPerHost:     c,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()

	var (
		sent     atomic.Int64
		mu       sync.Mutex
		res      = result{statuses: map[int]int{}}
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range c {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			statuses := map[int]int{}
			var err error
			for ctx.Err() == nil && sent.Add(1) <= int64(maxRequests) {
				var took time.Duration
				var status int
				took, status, err = post(ctx, client, p.url, body)
				if err != nil {
					if ctx.Err() != nil {
						err = nil // the round ended mid-request
					}
					break
				}
				statuses[status]++
				if status == http.StatusAccepted {
					lat = append(lat, took)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.latencies = append(res.latencies, lat...)
			for s, n := range statuses {
				res.statuses[s] += n
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	if firstErr != nil {
		return res, firstErr
	}
	if len(res.latencies) == 0 {
		return res, fmt.Errorf("no request was accepted (statuses %v)", res.statuses)
	}
	return res, nil
}

func post(ctx context.Context, client *http.Client, url string, s *signed.Body) (time.Duration, int, error) {
	rd, n, sig := s.Next(nextID())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, rd)
	if err != nil {
		return 0, 0, err
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(signed.Header, sig)
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(t0), resp.StatusCode, err
}

var (
	idSeq    atomic.Uint64
	idPrefix = fmt.Sprintf("load%08x", uint32(time.Now().UnixNano()))
)

// nextID returns an activity id no earlier request of this run used: the outbox de-duplicates by
// (activity, state), and a repeated id would be answered 200 without persisting anything.
func nextID() string { return fmt.Sprintf("%s%012d", idPrefix, idSeq.Add(1)) }

// procStatus reads the kB values of /proc/<pid>/status (VmHWM: peak RSS; RssAnon, RssFile: the current
// resident memory, the file-backed part being mostly bolt's memory map) in bytes.
func procStatus(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, fmt.Errorf("read memory use: %w", err)
	}
	out := map[string]int64{}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		var kb int64
		if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); ok && err == nil {
			out[k] = kb << 10
		}
	}
	if _, ok := out["VmHWM"]; !ok {
		return nil, errors.New("read memory use: no VmHWM in /proc/<pid>/status")
	}
	return out, nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
