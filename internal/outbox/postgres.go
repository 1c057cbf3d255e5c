package outbox

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activitybridge/activitybridge/notifier"
)

// The PostgreSQL store (OpenPostgres) lets several processes share one outbox:
//
//   - Tables are prefixed activitybridge_ so that the database can hold other things. OpenPostgres
//     creates and migrates them under a transaction-scoped advisory lock, so replicas that start
//     together migrate once; the version row is in activitybridge_schema.
//   - A destination's lane is a row of activitybridge_lanes (dest, owner, epoch, lease_until, tat).
//     ClaimLanes takes free or ended lanes with FOR UPDATE SKIP LOCKED and bumps the epoch; every
//     fenced write updates the lane row only where owner and epoch still match, in the same statement
//     as its change to the job, so a write under a lost lease changes nothing. No session advisory
//     lock is used for lanes: a dead peer's session can outlive it for as long as TCP keepalive takes,
//     a lease ends on time.
//   - Lane order is commit order. Enqueue (and Replay) first lock the lane rows of their destinations
//     (INSERT ... ON CONFLICT DO UPDATE, in name order) and only then draw the job IDs from a sequence.
//     Another enqueue to the same destination waits for that lock until the first commits, so it
//     draws larger IDs: within a destination, IDs increase in commit order, and "ID > n" means "later
//     in the lane". (A plain serial drawn before the lock could commit out of order and let a later
//     state overtake its post.)
//   - Time: with the system clock, every time the database compares (lease ends, de-dup marks, what
//     is shown) is the database server's clock (statement_timestamp()), so replicas whose clocks
//     disagree still agree on when a lease ends. A Lease's Until, which only its own worker reads, is
//     this process's clock at the start of the claim or renewal plus the lease: each side measures
//     the lease as a duration on one clock, and the worker's view ends no later than the database's.
//     With WithClock (tests) the store's clock is used everywhere instead.
//   - Committed jobs send a NOTIFY; a dedicated connection LISTENs (and reconnects when lost) and
//     turns notifications into Changes. The worker's poll is the backstop.
//   - The global gauges (queue depth, oldest pending, dead letters) would be counted once per replica
//     if every replica reported them; only the replica holding the "metrics" role row (a lease of
//     pgRoleTTL renewed every pgRoleTTL/3 in the background) reports them, see reportsGlobal.
const (
	pgPrefix        = "activitybridge_"
	pgChannel       = pgPrefix + "jobs"
	pgMigrationLock = 0x61627267 // "abrg": the advisory lock key of migrations
	pgRoleTTL       = 15 * time.Second
	pgMaxConns      = 10
	pgPingTimeout   = 3 * time.Second
)

// pgMigrations are applied in order; the version row counts how many ran. Never edit one that shipped:
// append a new one.
var pgMigrations = []string{
	`CREATE TABLE activitybridge_lanes (
		dest        text PRIMARY KEY,
		owner       text NOT NULL DEFAULT '',
		epoch       bigint NOT NULL DEFAULT 0,
		lease_until timestamptz,
		tat         timestamptz,
		enqueued    bigint NOT NULL DEFAULT 0
	);
	CREATE SEQUENCE activitybridge_job_id;
	CREATE TABLE activitybridge_jobs (
		id         bigint PRIMARY KEY,
		dest       text NOT NULL REFERENCES activitybridge_lanes (dest),
		received   timestamptz NOT NULL,
		job        json NOT NULL,
		attempts   integer NOT NULL DEFAULT 0,
		next_at    timestamptz,
		last_error text NOT NULL DEFAULT ''
	);
	CREATE INDEX activitybridge_jobs_lane ON activitybridge_jobs (dest, id);
	CREATE TABLE activitybridge_dead (
		id         bigint PRIMARY KEY,
		dest       text NOT NULL,
		job        json NOT NULL,
		attempts   integer NOT NULL,
		next_at    timestamptz,
		last_error text NOT NULL,
		reason     text NOT NULL,
		dead_at    timestamptz NOT NULL
	);
	CREATE TABLE activitybridge_dedup (
		activity text NOT NULL,
		state    text NOT NULL,
		at       timestamptz NOT NULL,
		token    text NOT NULL,
		PRIMARY KEY (activity, state)
	);
	CREATE INDEX activitybridge_dedup_at ON activitybridge_dedup (at);
	CREATE TABLE activitybridge_shown (
		activity    text NOT NULL,
		dest        text NOT NULL,
		ref_channel text NOT NULL DEFAULT '',
		ref_id      text NOT NULL DEFAULT '',
		rank        integer NOT NULL,
		at          timestamptz NOT NULL,
		PRIMARY KEY (activity, dest)
	);
	CREATE INDEX activitybridge_shown_at ON activitybridge_shown (at);
	CREATE TABLE activitybridge_roles (
		role  text PRIMARY KEY,
		owner text NOT NULL,
		until timestamptz NOT NULL
	);`,
	// Epochs come from one sequence, so a lane row made anew (after Sweep removed an idle one) never
	// hands out an epoch that an old lease of the same owner still carries.
	`CREATE SEQUENCE activitybridge_lane_epoch;
	SELECT setval('activitybridge_lane_epoch', GREATEST((SELECT max(epoch) FROM activitybridge_lanes), 0) + 1, false);`,
}

// pgStore is the PostgreSQL Store.
type pgStore struct {
	cfg     storeConfig
	pool    *pgxpool.Pool
	connCfg *pgx.ConnConfig // for the LISTEN connection
	dbClock bool            // compare times with the database's clock (no WithClock given)
	self    string          // this store's name in the roles table
	changes chan struct{}
	closed  atomic.Bool
	stop    context.CancelFunc
	wg      sync.WaitGroup
	// metricsUntil is when this store's hold on the metrics role ends (this process's clock), as
	// unix nanoseconds; 0 when it does not hold it.
	metricsUntil atomic.Int64
}

// OpenPostgres connects to the PostgreSQL database at url (a postgres:// URL or a key=value DSN, as
// libpq takes them), creates or migrates its tables, and starts listening for new jobs. Several
// processes may open the same database: they share the jobs, and each destination's lane is delivered
// by one of them at a time. Errors never show the URL (it may hold a password).
func OpenPostgres(ctx context.Context, url string, opts ...Option) (Store, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("outbox: postgres: the database URL cannot be parsed; give a postgres:// URL or a key=value DSN")
	}
	if !strings.Contains(url, "pool_max_conns") {
		pcfg.MaxConns = pgMaxConns
	}
	cfg := newStoreConfig(opts)
	_, system := cfg.clock.(systemClock)
	s := &pgStore{
		cfg:     cfg,
		connCfg: pcfg.ConnConfig.Copy(),
		dbClock: system,
		self:    randomName(),
		changes: make(chan struct{}, 1),
	}
	if s.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		return nil, pgError("connect", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, err
	}
	s.takeRole(ctx) // before the first scrape, so that one replica reports from the start
	bg, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.wg.Add(2)
	go s.listen(bg)
	go s.holdRoles(bg)
	return s, nil
}

func randomName() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// pgError wraps a database error for the log: pgconn's connection errors can quote the host and user,
// never the password, so they are kept.
func pgError(what string, err error) error {
	return fmt.Errorf("outbox: postgres: %s: %w", what, err)
}

// migrate creates the tables or brings them to the newest version, once even when several
// processes start together: the transaction-scoped advisory lock makes the others wait, then they
// find the version up to date.
func (s *pgStore) migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return pgError("migrate", err)
	}
	defer tx.Rollback(context.Background()) // a no-op after Commit
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgMigrationLock)); err != nil {
		return pgError("migrate: lock", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS activitybridge_schema (version integer NOT NULL)`); err != nil {
		return pgError("migrate", err)
	}
	var version int
	err = tx.QueryRow(ctx, `SELECT version FROM activitybridge_schema`).Scan(&version)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, `INSERT INTO activitybridge_schema (version) VALUES (0)`); err != nil {
			return pgError("migrate", err)
		}
	case err != nil:
		return pgError("migrate", err)
	}
	if version > len(pgMigrations) {
		return fmt.Errorf("outbox: postgres: the database's schema is version %d, newer than this program's %d; run the newer activitybridge or a fresh database", version, len(pgMigrations))
	}
	for i := version; i < len(pgMigrations); i++ {
		if _, err := tx.Exec(ctx, pgMigrations[i]); err != nil {
			return pgError(fmt.Sprintf("migrate to version %d", i+1), err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE activitybridge_schema SET version = $1`, len(pgMigrations)); err != nil {
		return pgError("migrate", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return pgError("migrate", err)
	}
	return nil
}

// now is the $1 of every statement that compares times: NULL lets the database use its own clock
// (see nowSQL), a time is the store's Clock (tests).
func (s *pgStore) now() *time.Time {
	if s.dbClock {
		return nil
	}
	t := s.cfg.clock.Now()
	return &t
}

// nowSQL is the current time in SQL, given now() as $1.
const nowSQL = `coalesce($1::timestamptz, statement_timestamp())`

func micros(d time.Duration) int64 { return d.Microseconds() }

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *pgStore) check(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// encodeJob returns the part of job that never changes while it waits (no ID, no bookkeeping).
func encodeJob(j Job) ([]byte, error) {
	j.ID, j.Attempts, j.NextAt, j.LastError = 0, 0, time.Time{}, ""
	return json.Marshal(j)
}

// decodeJob rebuilds a job from its row.
func decodeJob(id int64, raw []byte, attempts int32, nextAt *time.Time, lastError string) (Job, error) {
	var j Job
	if err := json.Unmarshal(raw, &j); err != nil {
		return Job{}, fmt.Errorf("outbox: decode job %d: %w", id, err)
	}
	j.ID, j.Attempts, j.LastError = uint64(id), int(attempts), lastError
	if nextAt != nil {
		j.NextAt = *nextAt
	} else {
		j.NextAt = time.Time{}
	}
	return j, nil
}

// lockLanes creates or locks the lane rows of dests (sorted, so that two transactions never wait for
// each other crosswise). Job IDs drawn after this follow commit order within each lane.
func lockLanes(ctx context.Context, tx pgx.Tx, counts map[string]int) error {
	dests := make([]string, 0, len(counts))
	for d := range counts {
		dests = append(dests, d)
	}
	slices.Sort(dests)
	b := &pgx.Batch{}
	for _, d := range dests {
		b.Queue(`INSERT INTO activitybridge_lanes AS l (dest, enqueued) VALUES ($1, $2)
			ON CONFLICT (dest) DO UPDATE SET enqueued = l.enqueued + EXCLUDED.enqueued`, d, counts[d])
	}
	return tx.SendBatch(ctx, b).Close()
}

func (s *pgStore) Enqueue(ctx context.Context, activity, state string, jobs []Job) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	prepared := prepare(activity, state, jobs, s.cfg.clock.Now())
	encoded := make([][]byte, len(prepared))
	counts := map[string]int{}
	for i, j := range prepared {
		v, err := encodeJob(j)
		if err != nil {
			return 0, fmt.Errorf("outbox: enqueue activity %s: encode job: %w", activity, err)
		}
		encoded[i] = v
		counts[j.Dest]++
	}
	// One round trip, one implicit transaction (the batch ends with a single Sync): the de-dup mark
	// with a token of this call, then, only where the mark carries that token (it was new or had
	// expired), the lane rows (locked in name order), the jobs (their IDs drawn after the locks) and the
	// wake-up. The lanes stay locked only until the server commits, never across a round trip.
	token := randomName()
	fresh := `EXISTS (SELECT 1 FROM activitybridge_dedup WHERE activity = $1 AND state = $2 AND token = $3)`
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO activitybridge_dedup AS d (activity, state, at, token) VALUES ($2, $3, `+nowSQL+`, $5)
		ON CONFLICT (activity, state) DO UPDATE SET at = EXCLUDED.at, token = EXCLUDED.token
		WHERE d.at <= EXCLUDED.at - $4 * interval '1 microsecond'`, s.now(), activity, state, micros(s.cfg.window), token)
	dests := make([]string, 0, len(counts))
	for d := range counts {
		dests = append(dests, d)
	}
	slices.Sort(dests)
	for _, d := range dests {
		b.Queue(`INSERT INTO activitybridge_lanes AS l (dest, enqueued) SELECT $4, $5 WHERE `+fresh+`
			ON CONFLICT (dest) DO UPDATE SET enqueued = l.enqueued + EXCLUDED.enqueued`, activity, state, token, d, counts[d])
	}
	for i, j := range prepared {
		b.Queue(`INSERT INTO activitybridge_jobs (id, dest, received, job)
			SELECT nextval('activitybridge_job_id'), $4, $5, $6 WHERE `+fresh, activity, state, token, j.Dest, j.Received, encoded[i])
	}
	if len(prepared) > 0 {
		b.Queue(`SELECT pg_notify($4, '') WHERE `+fresh, activity, state, token, pgChannel)
	}
	br := s.pool.SendBatch(ctx, b)
	mark, err := br.Exec()
	if err != nil {
		_ = br.Close()
		return 0, pgError("enqueue: de-dup mark", err)
	}
	for range b.Len() - 1 {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return 0, pgError("enqueue", err)
		}
	}
	if err := br.Close(); err != nil {
		return 0, pgError("enqueue: commit", err)
	}
	if mark.RowsAffected() == 0 {
		return 0, nil // a duplicate delivery within the window: nothing else was written either
	}
	if len(prepared) > 0 {
		signal(s.changes)
	}
	return len(prepared), nil
}

func (s *pgStore) ClaimLanes(ctx context.Context, owner string, leaseFor time.Duration, limit int) ([]Lease, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	start := s.cfg.clock.Now()
	rows, err := s.pool.Query(ctx, `WITH free AS (
			SELECT l.dest, first.id AS first
			FROM activitybridge_lanes l
			CROSS JOIN LATERAL (SELECT j.id FROM activitybridge_jobs j WHERE j.dest = l.dest ORDER BY j.id LIMIT 1) first
			WHERE l.owner = '' OR l.lease_until IS NULL OR l.lease_until <= `+nowSQL+`
			ORDER BY first.id
			LIMIT $4
			FOR UPDATE OF l SKIP LOCKED
		)
		UPDATE activitybridge_lanes l
		SET owner = $2, epoch = nextval('activitybridge_lane_epoch'), lease_until = `+nowSQL+` + $3 * interval '1 microsecond'
		FROM free WHERE l.dest = free.dest
		RETURNING l.dest, l.epoch, l.tat, free.first`, s.now(), owner, micros(leaseFor), limit)
	if err != nil {
		return nil, pgError("claim lanes", err)
	}
	type claimed struct {
		l     Lease
		first int64
	}
	var got []claimed
	for rows.Next() {
		var c claimed
		var tat *time.Time
		if err := rows.Scan(&c.l.Dest, &c.l.Epoch, &tat, &c.first); err != nil {
			rows.Close()
			return nil, pgError("claim lanes", err)
		}
		c.l.Owner, c.l.Until = owner, start.Add(leaseFor)
		if tat != nil {
			c.l.TAT = *tat
		}
		got = append(got, c)
	}
	if err := rows.Err(); err != nil {
		return nil, pgError("claim lanes", err)
	}
	slices.SortFunc(got, func(a, b claimed) int { return cmp.Compare(a.first, b.first) })
	out := make([]Lease, len(got))
	for i, c := range got {
		out[i] = c.l
	}
	return out, nil
}

func (s *pgStore) Renew(ctx context.Context, l Lease, leaseFor time.Duration) (Lease, error) {
	if err := s.check(ctx); err != nil {
		return Lease{}, err
	}
	start := s.cfg.clock.Now()
	tag, err := s.pool.Exec(ctx, `UPDATE activitybridge_lanes
		SET lease_until = `+nowSQL+` + $5 * interval '1 microsecond', tat = greatest(tat, $6)
		WHERE dest = $2 AND owner = $3 AND epoch = $4`, s.now(), l.Dest, l.Owner, l.Epoch, micros(leaseFor), nullTime(l.TAT))
	if err != nil {
		return Lease{}, pgError("renew lease on "+l.Dest, err)
	}
	if tag.RowsAffected() == 0 {
		return Lease{}, fmt.Errorf("outbox: renew lease on %s: %w", l.Dest, ErrLeaseLost)
	}
	l.Until = start.Add(leaseFor)
	return l, nil
}

func (s *pgStore) Release(ctx context.Context, l Lease) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `UPDATE activitybridge_lanes
		SET owner = '', lease_until = NULL, tat = greatest(tat, $4)
		WHERE dest = $1 AND owner = $2 AND epoch = $3`, l.Dest, l.Owner, l.Epoch, nullTime(l.TAT))
	if err != nil {
		return pgError("release lease on "+l.Dest, err)
	}
	return nil
}

func (s *pgStore) LaneJobs(ctx context.Context, dest string, limit int) ([]Job, error) {
	return s.laneJobsAfter(ctx, dest, 0, limit)
}

// laneJobsAfter implements laneTail: IDs follow commit order within a lane (see lockLanes).
func (s *pgStore) laneJobsAfter(ctx context.Context, dest string, after uint64, limit int) ([]Job, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT id, job, attempts, next_at, last_error FROM activitybridge_jobs
		WHERE dest = $1 AND id > $2 ORDER BY id LIMIT $3`, dest, int64(after), limit)
	if err != nil {
		return nil, pgError("lane jobs of "+dest, err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		var (
			id        int64
			raw       []byte
			attempts  int32
			nextAt    *time.Time
			lastError string
		)
		if err := rows.Scan(&id, &raw, &attempts, &nextAt, &lastError); err != nil {
			return nil, pgError("lane jobs of "+dest, err)
		}
		j, err := decodeJob(id, raw, attempts, nextAt, lastError)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, pgError("lane jobs of "+dest, err)
	}
	return out, nil
}

// fenceSQL is the common table expression of every fenced write: it keeps the lane's pacing state
// and yields a row only while ($2, $3, $4) = (dest, owner, epoch) still holds the lane; $5 is l.TAT.
const fenceSQL = `fence AS (
		UPDATE activitybridge_lanes SET tat = greatest(tat, $5)
		WHERE dest = $2 AND owner = $3 AND epoch = $4
		RETURNING ` + nowSQL + ` AS now
	)`

func fenceArgs(s *pgStore, l Lease) []any {
	return []any{s.now(), l.Dest, l.Owner, l.Epoch, nullTime(l.TAT)}
}

func wrongLane(l Lease, dest string) error {
	return fmt.Errorf("%w: job of %s under the lease of %s", ErrLeaseLost, dest, l.Dest)
}

func (s *pgStore) Update(ctx context.Context, l Lease, job Job) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if job.Dest != l.Dest {
		return fmt.Errorf("outbox: update job %d: %w", job.ID, wrongLane(l, job.Dest))
	}
	var held, found bool
	err := s.pool.QueryRow(ctx, `WITH `+fenceSQL+`, upd AS (
			UPDATE activitybridge_jobs SET attempts = $7, next_at = $8, last_error = $9
			WHERE id = $6 AND dest = $2 AND EXISTS (SELECT 1 FROM fence)
			RETURNING true
		)
		SELECT EXISTS (SELECT 1 FROM fence), EXISTS (SELECT 1 FROM upd)`,
		append(fenceArgs(s, l), int64(job.ID), job.Attempts, nullTime(job.NextAt), job.LastError)...).Scan(&held, &found)
	switch {
	case err != nil:
		return pgError(fmt.Sprintf("update job %d", job.ID), err)
	case !held:
		return fmt.Errorf("outbox: update job %d: %w", job.ID, ErrLeaseLost)
	case !found:
		return fmt.Errorf("outbox: update job %d: %w", job.ID, ErrNotFound)
	}
	return nil
}

// showSQL raises what ($6 activity, $2 dest) shows to rank $7, with ref ($8, $9) unless $9 is empty;
// an entry older than the window ($10 µs) counts as nothing. It runs only where the fence holds.
const showSQL = `show AS (
		INSERT INTO activitybridge_shown AS s (activity, dest, ref_channel, ref_id, rank, at)
		SELECT $6::text, $2::text, $8::text, $9::text, $7::integer, ` + nowSQL + ` FROM fence
		ON CONFLICT (activity, dest) DO UPDATE SET
			rank = greatest(CASE WHEN s.at > EXCLUDED.at - $10 * interval '1 microsecond' THEN s.rank ELSE 0 END, EXCLUDED.rank),
			ref_channel = CASE WHEN EXCLUDED.ref_id <> '' THEN EXCLUDED.ref_channel
				WHEN s.at > EXCLUDED.at - $10 * interval '1 microsecond' THEN s.ref_channel ELSE '' END,
			ref_id = CASE WHEN EXCLUDED.ref_id <> '' THEN EXCLUDED.ref_id
				WHEN s.at > EXCLUDED.at - $10 * interval '1 microsecond' THEN s.ref_id ELSE '' END,
			at = EXCLUDED.at
		RETURNING true
	)`

func (s *pgStore) Complete(ctx context.Context, l Lease, job Job, ref notifier.Ref) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if job.Dest != l.Dest {
		return fmt.Errorf("outbox: complete job %d: %w", job.ID, wrongLane(l, job.Dest))
	}
	var held bool
	err := s.pool.QueryRow(ctx, `WITH `+fenceSQL+`, `+showSQL+`, del AS (
			DELETE FROM activitybridge_jobs WHERE id = $11 AND dest = $2 AND EXISTS (SELECT 1 FROM fence)
			RETURNING true
		)
		SELECT EXISTS (SELECT 1 FROM fence)`,
		append(fenceArgs(s, l), job.Activity, Rank(job.State), ref.Channel, ref.ID, micros(s.cfg.window), int64(job.ID))...).Scan(&held)
	switch {
	case err != nil:
		return pgError(fmt.Sprintf("complete job %d", job.ID), err)
	case !held:
		return fmt.Errorf("outbox: complete job %d: %w", job.ID, ErrLeaseLost)
	}
	return nil
}

func (s *pgStore) Forget(ctx context.Context, l Lease, activity, dest string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if dest != l.Dest {
		return fmt.Errorf("outbox: forget the message of %s: %w", dest, wrongLane(l, dest))
	}
	var held bool
	err := s.pool.QueryRow(ctx, `WITH `+fenceSQL+`, forget AS (
			UPDATE activitybridge_shown SET ref_channel = '', ref_id = '', at = `+nowSQL+`
			WHERE activity = $6 AND dest = $2 AND ref_id <> '' AND at > `+nowSQL+` - $7 * interval '1 microsecond'
				AND EXISTS (SELECT 1 FROM fence)
			RETURNING true
		)
		SELECT EXISTS (SELECT 1 FROM fence)`,
		append(fenceArgs(s, l), activity, micros(s.cfg.window))...).Scan(&held)
	switch {
	case err != nil:
		return pgError("forget the message of "+dest, err)
	case !held:
		return fmt.Errorf("outbox: forget the message of %s: %w", dest, ErrLeaseLost)
	}
	return nil
}

func (s *pgStore) Shown(ctx context.Context, activity, dest string) (Shown, error) {
	if err := s.check(ctx); err != nil {
		return Shown{}, err
	}
	var sh Shown
	err := s.pool.QueryRow(ctx, `SELECT ref_channel, ref_id, rank FROM activitybridge_shown
		WHERE activity = $2 AND dest = $3 AND at > `+nowSQL+` - $4 * interval '1 microsecond'`,
		s.now(), activity, dest, micros(s.cfg.window)).Scan(&sh.Ref.Channel, &sh.Ref.ID, &sh.Rank)
	if errors.Is(err, pgx.ErrNoRows) {
		return Shown{}, nil
	}
	if err != nil {
		return Shown{}, pgError("what "+dest+" shows", err)
	}
	return sh, nil
}

func (s *pgStore) Kill(ctx context.Context, l Lease, job Job, reason string) (DeadLetter, error) {
	if err := s.check(ctx); err != nil {
		return DeadLetter{}, err
	}
	if job.Dest != l.Dest {
		return DeadLetter{}, fmt.Errorf("outbox: dead-letter job %d: %w", job.ID, wrongLane(l, job.Dest))
	}
	deadAt := s.cfg.clock.Now()
	var (
		held bool
		raw  []byte
	)
	err := s.pool.QueryRow(ctx, `WITH `+fenceSQL+`, del AS (
			DELETE FROM activitybridge_jobs WHERE id = $6 AND dest = $2 AND EXISTS (SELECT 1 FROM fence)
			RETURNING id, dest, job
		), dead AS (
			INSERT INTO activitybridge_dead (id, dest, job, attempts, next_at, last_error, reason, dead_at)
			SELECT id, dest, job, $7::integer, $8::timestamptz, $9::text, $10::text, $11::timestamptz FROM del
			RETURNING true
		)
		SELECT EXISTS (SELECT 1 FROM fence), (SELECT job FROM del)`,
		append(fenceArgs(s, l), int64(job.ID), job.Attempts, nullTime(job.NextAt), job.LastError, reason, deadAt)...).Scan(&held, &raw)
	switch {
	case err != nil:
		return DeadLetter{}, pgError(fmt.Sprintf("dead-letter job %d", job.ID), err)
	case !held:
		return DeadLetter{}, fmt.Errorf("outbox: dead-letter job %d: %w", job.ID, ErrLeaseLost)
	case raw == nil:
		return DeadLetter{}, fmt.Errorf("outbox: dead-letter job %d: %w", job.ID, ErrNotFound)
	}
	j, err := decodeJob(int64(job.ID), raw, int32(job.Attempts), nullTime(job.NextAt), job.LastError)
	if err != nil {
		return DeadLetter{}, err
	}
	return DeadLetter{Job: j, Reason: reason, DeadAt: deadAt}, nil
}

// deadRow is one row of activitybridge_dead as read.
type deadRow struct {
	id        int64
	raw       []byte
	attempts  int32
	nextAt    *time.Time
	lastError string
	reason    string
	deadAt    time.Time
}

func (r deadRow) letter() (DeadLetter, error) {
	j, err := decodeJob(r.id, r.raw, r.attempts, r.nextAt, r.lastError)
	if err != nil {
		return DeadLetter{}, err
	}
	return DeadLetter{Job: j, Reason: r.reason, DeadAt: r.deadAt}, nil
}

func scanDead(rows pgx.Rows) ([]DeadLetter, error) {
	defer rows.Close()
	out := []DeadLetter{}
	for rows.Next() {
		var r deadRow
		if err := rows.Scan(&r.id, &r.raw, &r.attempts, &r.nextAt, &r.lastError, &r.reason, &r.deadAt); err != nil {
			return nil, err
		}
		d, err := r.letter()
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b DeadLetter) int { return cmp.Compare(a.Job.ID, b.Job.ID) })
	return out, nil
}

const deadColumns = `id, job, attempts, next_at, last_error, reason, dead_at`

func (s *pgStore) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deadColumns+` FROM activitybridge_dead ORDER BY id`)
	if err != nil {
		return nil, pgError("dead letters", err)
	}
	out, err := scanDead(rows)
	if err != nil {
		return nil, pgError("dead letters", err)
	}
	return out, nil
}

// replay moves the dead letters that del (a DELETE ... RETURNING deadColumns) removes back into their
// lanes, in ID order, with new IDs drawn after their lanes are locked.
func (s *pgStore) replay(ctx context.Context, del string, args ...any) ([]Job, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.Background()) // a no-op after Commit
	rows, err := tx.Query(ctx, del, args...)
	if err != nil {
		return nil, err
	}
	dead, err := scanDead(rows)
	if err != nil {
		return nil, err
	}
	if len(dead) == 0 {
		return nil, ErrNotFound
	}
	now := s.cfg.clock.Now()
	counts := map[string]int{}
	jobs := make([]Job, len(dead))
	encoded := make([][]byte, len(dead))
	for i, d := range dead {
		jobs[i] = revive(d, 0, now)
		counts[jobs[i].Dest]++
		if encoded[i], err = encodeJob(jobs[i]); err != nil {
			return nil, err
		}
	}
	if err := lockLanes(ctx, tx, counts); err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	for i, j := range jobs {
		b.Queue(`INSERT INTO activitybridge_jobs (id, dest, received, job) VALUES (nextval('activitybridge_job_id'), $1, $2, $3) RETURNING id`,
			j.Dest, j.Received, encoded[i])
	}
	b.Queue(`SELECT pg_notify($1, '')`, pgChannel)
	br := tx.SendBatch(ctx, b)
	for i := range jobs {
		var id int64
		if err := br.QueryRow().Scan(&id); err != nil {
			_ = br.Close()
			return nil, err
		}
		jobs[i].ID = uint64(id)
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	signal(s.changes)
	return jobs, nil
}

func (s *pgStore) Replay(ctx context.Context, id uint64) (Job, error) {
	if err := s.check(ctx); err != nil {
		return Job{}, err
	}
	jobs, err := s.replay(ctx, `DELETE FROM activitybridge_dead WHERE id = $1 RETURNING `+deadColumns, int64(id))
	switch {
	case errors.Is(err, ErrNotFound):
		return Job{}, fmt.Errorf("outbox: replay dead letter %d: %w", id, ErrNotFound)
	case err != nil:
		return Job{}, pgError(fmt.Sprintf("replay dead letter %d", id), err)
	}
	return jobs[0], nil
}

func (s *pgStore) ReplayAll(ctx context.Context) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	jobs, err := s.replay(ctx, `DELETE FROM activitybridge_dead RETURNING `+deadColumns)
	switch {
	case errors.Is(err, ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, pgError("replay dead letters", err)
	}
	return len(jobs), nil
}

func (s *pgStore) Sweep(ctx context.Context) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM activitybridge_dedup WHERE at <= `+nowSQL+` - $2 * interval '1 microsecond'`, s.now(), micros(s.cfg.window))
	b.Queue(`DELETE FROM activitybridge_shown WHERE at <= `+nowSQL+` - $2 * interval '1 microsecond'`, s.now(), micros(s.cfg.window))
	if s.cfg.retention > 0 {
		b.Queue(`DELETE FROM activitybridge_dead WHERE dead_at < $1`, s.cfg.clock.Now().Add(-s.cfg.retention))
	}
	br := s.pool.SendBatch(ctx, b)
	n := 0
	for range b.Len() {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return n, pgError("sweep", err)
		}
		n += int(tag.RowsAffected())
	}
	if err := br.Close(); err != nil {
		return n, pgError("sweep", err)
	}
	// Lane rows without jobs, without a live lease and idle for the window (no send, so tat is a
	// window old) go too (not counted: they are bookkeeping). A recent row is kept: its tat is the
	// pacing state (dropped, the next notice would get a fresh burst the chat service does not give).
	// Epochs come from a sequence, so a row made anew never reuses one. A lane that gets a
	// job meanwhile is locked by that enqueue (skipped) or keeps its row: the jobs' foreign key makes
	// the delete fail rather than orphan them.
	_, err := s.pool.Exec(ctx, `DELETE FROM activitybridge_lanes WHERE dest IN (
			SELECT l.dest FROM activitybridge_lanes l
			WHERE (l.owner = '' OR l.lease_until IS NULL OR l.lease_until <= `+nowSQL+`)
				AND (l.tat IS NULL OR l.tat <= `+nowSQL+` - $2 * interval '1 microsecond')
				AND NOT EXISTS (SELECT 1 FROM activitybridge_jobs j WHERE j.dest = l.dest)
			FOR UPDATE SKIP LOCKED
		)`, s.now(), micros(s.cfg.window))
	var pe *pgconn.PgError
	if err != nil && !(errors.As(err, &pe) && pe.Code == "23503") { // foreign_key_violation: a job arrived
		return n, pgError("sweep lanes", err)
	}
	return n, nil
}

func (s *pgStore) Stats(ctx context.Context) (Stats, error) {
	if err := s.check(ctx); err != nil {
		return Stats{}, err
	}
	var (
		st     Stats
		oldest *time.Time
	)
	err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM activitybridge_jobs),
			(SELECT min(received) FROM activitybridge_jobs),
			(SELECT count(*) FROM activitybridge_dead)`).Scan(&st.Pending, &oldest, &st.DeadLetters)
	if err != nil {
		return Stats{}, pgError("stats", err)
	}
	if oldest != nil {
		st.OldestReceived = *oldest
	}
	return st, nil
}

func (s *pgStore) Changes() <-chan struct{} { return s.changes }

func (s *pgStore) Ping() error {
	if s.closed.Load() {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), pgPingTimeout)
	defer cancel()
	var readOnly bool
	if err := s.pool.QueryRow(ctx, `SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'`).Scan(&readOnly); err != nil {
		return pgError("ping", err)
	}
	if readOnly {
		return errors.New("outbox: postgres: the database is read-only (a standby?); point BRIDGE_DATABASE_URL at the primary")
	}
	return nil
}

func (s *pgStore) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.stop()
	s.wg.Wait()
	// Hand the metrics role on at once instead of after its TTL.
	ctx, cancel := context.WithTimeout(context.Background(), pgPingTimeout)
	defer cancel()
	_, _ = s.pool.Exec(ctx, `DELETE FROM activitybridge_roles WHERE owner = $1`, s.self)
	s.pool.Close()
	return nil
}

// listen turns NOTIFYs of committed jobs (from any process) into Changes, on a connection of its
// own; when the connection is lost it reconnects, with a growing pause, and signals Changes once
// (notifications may have been missed meanwhile).
func (s *pgStore) listen(ctx context.Context) {
	defer s.wg.Done()
	pause := 100 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, s.connCfg)
		if err == nil {
			if _, err = conn.Exec(ctx, `LISTEN `+pgChannel); err == nil {
				pause = 100 * time.Millisecond
				signal(s.changes)
				for err == nil {
					_, err = conn.WaitForNotification(ctx)
					if err == nil {
						signal(s.changes)
					}
				}
			}
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(closeCtx)
			cancel()
		}
		if ctx.Err() != nil {
			return
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		pause = min(pause*2, 10*time.Second)
	}
}

// holdRoles keeps trying to hold the metrics role: it takes the role when free or ended, renews it
// every third of pgRoleTTL while it holds it.
func (s *pgStore) holdRoles(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(pgRoleTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.takeRole(ctx)
	}
}

func (s *pgStore) takeRole(ctx context.Context) {
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, pgRoleTTL/3)
	defer cancel()
	// Always the database's clock: the role is about real replicas, not a test's fake time.
	tag, err := s.pool.Exec(cctx, `INSERT INTO activitybridge_roles AS r (role, owner, until)
		VALUES ('metrics', $1, clock_timestamp() + $2 * interval '1 microsecond')
		ON CONFLICT (role) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
		WHERE r.owner = EXCLUDED.owner OR r.until <= clock_timestamp()`, s.self, micros(pgRoleTTL))
	if err == nil && tag.RowsAffected() == 1 {
		s.metricsUntil.Store(start.Add(pgRoleTTL).UnixNano())
		return
	}
	if err == nil {
		s.metricsUntil.Store(0) // another replica holds it
	}
	// On an error the hold lapses on its own when its time is up.
}

// reportsGlobal reports whether this process should export the gauges that describe the whole
// outbox (queue depth, oldest pending, dead letters): only the holder of the metrics role does, so
// that a sum over the replicas counts each job once.
func (s *pgStore) reportsGlobal() bool {
	until := s.metricsUntil.Load()
	return until != 0 && time.Now().UnixNano() < until
}
