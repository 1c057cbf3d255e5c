package main

import (
	"fmt"
	"io"

	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/internal/app"
	"github.com/activitybridge/activitybridge/internal/config"
	"github.com/activitybridge/activitybridge/internal/fixture"
)

// checkCmd validates what serve would validate at start-up, without listening or opening the data file:
// every variable, every route and its credentials, every template set against every embedded fixture.
func checkCmd(args []string, stdout io.Writer) error {
	fs := newFlags("check", stdout)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: check takes no arguments", errUsage)
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	cfg.Store = "memory" // the running service holds the bolt file's lock
	a, err := app.New(cfg, zerolog.Nop(), io.Discard)
	if err != nil {
		return err
	}
	sets := a.Sets()
	fmt.Fprintf(stdout, "ok: %d routing rule(s), %d destination(s), template sets %v checked against %d sample activities\n",
		len(cfg.Table.Rules), len(a.Destinations()), sets, len(fixture.Activities()))
	printRules(stdout, cfg)
	return nil
}
