package main

import (
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/internal/app"
	"github.com/activitybridge/activitybridge/internal/config"
	"github.com/activitybridge/activitybridge/internal/fixture/sample"
)

// checkCmd validates what serve would validate at start-up, without listening or opening the data file:
// every variable, every route and its credentials, every template set against every embedded sample. Then
// it prints the warnings serve would log (unknown variables, an open endpoint, shadowed rules).
func checkCmd(args []string, stdout io.Writer) error {
	fs := newFlags("check", `activitybridge check
validate the configuration (BRIDGE_* variables), every routing rule and its credentials, and every
template; print one line per problem and exit 1, or "ok" and the warnings serve would log`)
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
	warnings := cfg.Warnings(os.Environ())
	cfg.Store = "memory" // the running service holds the bolt file's lock
	a, err := app.New(cfg, zerolog.Nop(), io.Discard)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ok: %d routing rule(s), %d destination(s), template sets %v checked against %d sample activities; %d warning(s)\n",
		len(cfg.Table.Rules), len(a.Destinations()), a.Sets(), len(sample.Names()), len(warnings))
	printRules(stdout, cfg)
	for _, w := range warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	return nil
}
