// Package app wires the service together: configuration in, notifiers, renderer, route table, outbox and
// worker, HTTP servers out. It is the only place that knows every other package; cmd/activitybridge only
// parses arguments and calls it.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/config"
	"github.com/activitybridge/activitybridge/internal/outbox"
	"github.com/activitybridge/activitybridge/internal/receiver"
	"github.com/activitybridge/activitybridge/internal/route"
	"github.com/activitybridge/activitybridge/notifier"
	"github.com/activitybridge/activitybridge/notifier/console"
	"github.com/activitybridge/activitybridge/notifier/discord"
	"github.com/activitybridge/activitybridge/notifier/slack"
	"github.com/activitybridge/activitybridge/render"
)

// sendTimeout bounds one call to a chat service; the worker retries what times out.
const sendTimeout = 15 * time.Second

// storeOpenTimeout bounds connecting to PostgreSQL and migrating its tables at start-up.
const storeOpenTimeout = 30 * time.Second

// shutdownTimeout bounds how long SIGTERM waits for requests in flight before closing the listener.
const shutdownTimeout = 10 * time.Second

// App is one running activitybridge service.
type App struct {
	cfg       *config.Config
	log       zerolog.Logger
	renderer  *render.Renderer
	table     *route.Table
	notifiers map[string]notifier.Notifier // by route.Target.Service()
	store     outbox.Store
	worker    *outbox.Worker
	registry  *prometheus.Registry
	disk      *storeHealth // whether the last store write failed for want of space or I/O (/readyz)
}

// New builds the service from a loaded configuration: it parses and checks the templates, opens the store and
// builds one notifier per configured destination. stdout receives the console notifier's messages.
func New(cfg *config.Config, log zerolog.Logger, stdout io.Writer) (*App, error) {
	r, err := render.New(render.Options{Dir: cfg.TemplatesDir, ConsoleURL: cfg.PublicConsoleURL,
		ProjectNames: cfg.ProjectNames, Repositories: cfg.Repositories})
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	a := &App{
		cfg:      cfg,
		log:      log,
		renderer: r,
		table:    cfg.Table,
		registry: prometheus.NewRegistry(),
		disk:     &storeHealth{log: log, dir: storeDir(cfg.Store, cfg.DataDir)},
	}
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := a.checkSets(); err != nil {
		return nil, err
	}
	if a.notifiers, err = buildNotifiers(cfg, a.table, stdout); err != nil {
		return nil, err
	}
	switch cfg.Store {
	case "memory":
		a.store = outbox.NewMemory()
	case "postgres":
		ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
		a.store, err = outbox.OpenPostgres(ctx, cfg.DatabaseURL.Value())
		cancel()
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	default:
		if a.store, err = outbox.OpenBolt(filepath.Join(cfg.DataDir, outbox.DefaultFileName)); err != nil {
			return nil, config.DataDirError(cfg.DataDir, err)
		}
	}
	a.worker = outbox.NewWorker(a.store, a.resolve, log, a.registry,
		outbox.WithMaxAge(cfg.MaxAge), outbox.WithSendTimeout(sendTimeout), outbox.WithKinds(a.kinds()...),
		outbox.WithLease(cfg.Lease), outbox.WithPollInterval(pollInterval(cfg)))
	return a, nil
}

// pollInterval is how often the worker looks for lanes when nothing woke it. With postgres it is also
// how soon after a dead replica's lease ends its lanes are claimed, so it is a tenth of the lease (one
// small query per replica): lanes are taken over within BRIDGE_LEASE × 1.1 of the kill.
func pollInterval(cfg *config.Config) time.Duration {
	if cfg.Store == "postgres" && cfg.Lease > 0 {
		return min(outbox.DefaultPollInterval, cfg.Lease/10)
	}
	return outbox.DefaultPollInterval
}

// kinds lists the configured destination kinds (slack, discord, ...), once each.
func (a *App) kinds() []string {
	seen := map[string]bool{}
	var out []string
	for key := range a.notifiers {
		if k := outbox.Kind(key); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// checkSets makes sure every template set a route names exists, so a typo fails at start-up.
func (a *App) checkSets() error {
	return a.table.CheckSets(a.renderer.Sets())
}

func buildNotifiers(cfg *config.Config, table *route.Table, stdout io.Writer) (map[string]notifier.Notifier, error) {
	hc := &http.Client{Timeout: sendTimeout}
	out := map[string]notifier.Notifier{}
	var (
		slackBot   *slack.Bot
		discordBot *discord.Bot
		hooks      *discord.Webhooks
		err        error
	)
	for _, t := range table.Targets() {
		key := t.Service()
		if _, ok := out[key]; ok {
			continue
		}
		var n notifier.Notifier
		switch t.Kind {
		case route.KindConsole:
			n = console.New(stdout)
		case route.KindSlack:
			if slackBot == nil {
				if slackBot, err = slack.NewBot(cfg.SlackToken.Value(), cfg.SlackAPIUrl, hc); err != nil {
					return nil, fmt.Errorf("BRIDGE_SLACK_TOKEN: %w", err)
				}
			}
			n = slackBot.Channel(t.Name)
		case route.KindSlackWebhook:
			if n, err = slack.NewWebhook(t.Name, cfg.SlackWebhooks[t.Name].Value(), hc); err != nil {
				return nil, fmt.Errorf("BRIDGE_SLACK_WEBHOOKS %s: %w", t.Name, err)
			}
		case route.KindDiscord:
			if hooks == nil {
				if hooks, err = discord.NewWebhooks(cfg.DiscordAPIUrl, hc); err != nil {
					return nil, fmt.Errorf("BRIDGE_DISCORD_API_URL: %w", err)
				}
			}
			if n, err = hooks.Hook(t.Name, cfg.DiscordWebhooks[t.Name].Value()); err != nil {
				return nil, fmt.Errorf("BRIDGE_DISCORD_WEBHOOKS %s: %w", t.Name, err)
			}
		case route.KindDiscordChannel:
			if discordBot == nil {
				if discordBot, err = discord.NewBot(cfg.DiscordToken.Value(), cfg.DiscordAPIUrl, hc); err != nil {
					return nil, fmt.Errorf("BRIDGE_DISCORD_TOKEN: %w", err)
				}
			}
			n = discordBot.Channel(t.Name)
		default:
			return nil, fmt.Errorf("target %s: unknown kind", t)
		}
		out[key] = n
	}
	return out, nil
}

// resolve finds the notifier of a job's destination. A job persisted under an earlier configuration whose
// destination is gone now fails permanently (it becomes a dead letter the operator can see).
func (a *App) resolve(dest string) (notifier.Notifier, error) {
	t, err := route.ParseTarget(dest)
	if err != nil {
		return nil, err
	}
	n, ok := a.notifiers[t.Service()]
	if !ok {
		return nil, fmt.Errorf("destination %s is not configured", t.Service())
	}
	return n, nil
}

// Accept decodes, routes, renders and persists one verified webhook body. It is the receiver's Accept.
func (a *App) Accept(ctx context.Context, body []byte) (string, int, error) {
	act, err := activity.Decode(body)
	if err != nil {
		return a.acceptHealth(ctx, body, err) // a health notification, or a 400 with the reason
	}
	if err := checkUTF8(body); err != nil { // Decode checks only the strings it keeps
		return "", 0, fmt.Errorf("%w: %w", receiver.ErrBadRequest, err)
	}
	facts := route.Facts{
		Project:     act.Project,
		Environment: act.EnvironmentName(),
		Type:        act.Type,
		State:       string(act.State),
		Result:      string(act.Result),
		EnvType:     act.EnvironmentType(),
	}
	return a.queue(ctx, act.ID, facts, func(set string) notifier.Message { return a.render(act, set) })
}

// queue routes one decoded notice (an activity or a health notification), renders it once per template
// set its destinations use, and persists one job per destination. It says why nothing was queued:
// ErrUnmatched when no rule matched, ErrDuplicate when (id, state) was accepted before.
func (a *App) queue(ctx context.Context, id string, facts route.Facts, render func(set string) notifier.Message) (string, int, error) {
	dests := a.table.Destinations(facts)
	if len(dests) == 0 {
		return id, 0, receiver.ErrUnmatched
	}
	now := time.Now()
	bySet := map[string]notifier.Message{}
	jobs := make([]outbox.Job, 0, len(dests))
	for _, d := range dests {
		msg, ok := bySet[d.Set]
		if !ok {
			msg = render(d.Set)
			bySet[d.Set] = msg
		}
		jobs = append(jobs, outbox.Job{
			Activity:    id,
			State:       facts.State,
			Dest:        d.String(),
			Project:     facts.Project,
			Environment: facts.Environment,
			Type:        facts.Type,
			Msg:         withMentions(msg, d.Mentions),
			Received:    now,
		})
	}
	queued, err := a.store.Enqueue(ctx, id, facts.State, jobs)
	a.disk.record(err)
	if err != nil {
		return id, 0, fmt.Errorf("%w: %w", receiver.ErrUnavailable, err)
	}
	if queued == 0 {
		return id, 0, receiver.ErrDuplicate
	}
	a.worker.Notify()
	return id, queued, nil
}

// render renders with the route's set. Templates were checked against every fixture at start-up, so a failure
// here means a payload shape nobody foresaw: the notice still goes out, as a plain message built in Go, because
// a missed failed deploy is worse than a plain one.
func (a *App) render(act *activity.Activity, set string) notifier.Message {
	msg, err := a.renderer.Render(act, set)
	if err == nil {
		return msg
	}
	a.log.Error().Err(err).Str("activity", act.ID).Str("type", act.Type).Str("set", set).Msg("template failed; sending a plain notice")
	return plainMessage(act, a.cfg.PublicConsoleURL)
}

// ready reports whether the service can accept webhooks: the store must be writable, and its last write
// must not have failed for want of space or an I/O error.
func (a *App) ready() error {
	if err := a.store.Ping(); err != nil {
		return fmt.Errorf("store not writable: %w", err)
	}
	return a.disk.check()
}

// Run serves until ctx is done, then shuts down in order: stop accepting webhooks, let requests in flight
// finish, let sends in flight finish (bounded), close the store. Everything accepted and not yet delivered stays
// persisted for the next start.
func (a *App) Run(ctx context.Context) error {
	defer a.store.Close()
	h, err := receiver.NewHandler(receiver.Options{
		SharedKey: a.cfg.SharedKey.Value(),
		PathToken: a.cfg.PathToken.Value(),
		MaxBody:   int64(a.cfg.MaxBody),
		Ready:     a.ready,
	}, a.Accept, a.log, a.registry, a.registry)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("BRIDGE_LISTEN %s: %w", a.cfg.Listen, err)
	}
	srv := receiver.NewServer(a.cfg.Listen, h)

	var admin *http.Server
	var adminLn net.Listener
	if a.cfg.AdminListen != "" {
		if adminLn, err = net.Listen("tcp", a.cfg.AdminListen); err != nil {
			ln.Close()
			return fmt.Errorf("BRIDGE_ADMIN_LISTEN %s: %w", a.cfg.AdminListen, err)
		}
		admin = &http.Server{Handler: outbox.AdminHandler(a.store, a.worker), ReadHeaderTimeout: 5 * time.Second}
	}

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	wg.Go(func() { errc <- a.worker.Run(workCtx) })
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("webhook server: %w", err)
		}
	}()
	if admin != nil {
		go func() {
			if err := admin.Serve(adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("admin server: %w", err)
			}
		}()
	}
	a.log.Info().Str("listen", ln.Addr().String()).Str("admin", a.cfg.AdminListen).Str("store", a.cfg.Store).
		Int("destinations", len(a.notifiers)).Msg("activitybridge serving")

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	a.log.Info().Msg("shutting down: no new webhooks, finishing deliveries in flight")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if admin != nil {
		_ = admin.Shutdown(sctx)
	}
	stopWork()
	wg.Wait()
	a.log.Info().Msg("stopped")
	return runErr
}

// Sets lists the template sets the service knows.
func (a *App) Sets() []string { return a.renderer.Sets() }

// Destinations lists the configured destinations (route.Target.Service() form).
func (a *App) Destinations() []string {
	out := make([]string, 0, len(a.notifiers))
	for k := range a.notifiers {
		out = append(out, k)
	}
	return out
}
