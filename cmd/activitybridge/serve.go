package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/internal/app"
	"github.com/activitybridge/activitybridge/internal/config"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", `activitybridge [serve]
run the service; it is configured by BRIDGE_* environment variables (see .env.example)`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: serve takes no arguments (configure it with BRIDGE_* variables)", errUsage)
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel, cfg.LogFormat, stderr)
	log.Info().Str("version", version).Object("config", cfg).Msg("starting")
	for _, w := range cfg.Warnings(os.Environ()) { // the same warnings as `check`
		log.Warn().Msg(w)
	}
	a, err := app.New(cfg, log, stdout)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// newLogger builds the service logger: JSON by default, human-readable on a terminal (or when asked).
func newLogger(level, format string, w io.Writer) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		lvl = zerolog.InfoLevel
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	out := w
	if format == "console" || (format == "auto" && isTerminal(w)) {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05"}
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && !strings.EqualFold(os.Getenv("TERM"), "dumb")
}
