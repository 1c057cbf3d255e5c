package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/activitybridge/activitybridge/internal/route"
)

func routesCmd(args []string, stdout io.Writer) error {
	fs := newFlags("routes", `activitybridge routes --project P --environment E [--type T] [--state S] [--result R] [--envtype X]
explain which BRIDGE_ROUTES rule matches an activity and where it goes, without sending anything`)
	project := fs.String("project", "", "project ID (required)")
	env := fs.String("environment", "", "environment name (required)")
	typ := fs.String("type", "environment.push", "activity type")
	state := fs.String("state", "complete", "activity state")
	result := fs.String("result", "success", "activity result: success, failure or none")
	envType := fs.String("envtype", "", "environment type: production, staging or development")
	rules := fs.String("routes", os.Getenv("BRIDGE_ROUTES"), "routing rules (from $BRIDGE_ROUTES)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *project == "" || *env == "" {
		return fmt.Errorf("%w: --project and --environment are required, e.g. routes --project abcdefgh1234567 --environment main", errUsage)
	}
	if *result == "none" {
		*result = ""
	}
	table, err := route.Parse(*rules)
	if err != nil {
		return err
	}
	facts := route.Facts{Project: *project, Environment: *env, Type: *typ, State: *state, Result: *result, EnvType: *envType}
	steps, targets := table.Explain(facts)
	fmt.Fprintf(stdout, "activity: project=%s environment=%s type=%s state=%s result=%s envtype=%s\n",
		facts.Project, facts.Environment, facts.Type, facts.State, orNone(facts.Result), orNone(facts.EnvType))
	if table.Default {
		fmt.Fprintln(stdout, "BRIDGE_ROUTES is empty: everything goes to the console.")
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	for _, s := range steps {
		mark := "no   "
		if s.Matched {
			mark = "MATCH"
		}
		fmt.Fprintf(tw, "  line %d\t%s\t%s\t%s\n", s.Rule.Line, mark, strings.Join(strings.Fields(s.Rule.Source), " "), s.Why)
	}
	tw.Flush()
	if len(targets) == 0 {
		fmt.Fprintln(stdout, "destinations: none (this activity would be answered 200 with queued 0)")
		return nil
	}
	fmt.Fprintln(stdout, "destinations:")
	for _, t := range targets {
		fmt.Fprintf(stdout, "  %s\n", t)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
