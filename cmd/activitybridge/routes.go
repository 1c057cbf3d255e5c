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
	namesFlag := fs.String("project-names", os.Getenv("BRIDGE_PROJECT_NAMES"), "project titles, id=title,... (from $BRIDGE_PROJECT_NAMES)")
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
	names, err := projectNames(*namesFlag)
	if err != nil {
		return err
	}
	facts := route.Facts{Project: *project, Environment: *env, Type: *typ, State: *state, Result: *result, EnvType: *envType}
	steps, targets := table.ExplainDestinations(facts)
	fmt.Fprintf(stdout, "activity: project=%s environment=%s type=%s state=%s result=%s envtype=%s\n",
		titled(facts.Project, names), facts.Environment, facts.Type, facts.State, orNone(facts.Result), orNone(facts.EnvType))
	if table.Default {
		fmt.Fprintln(stdout, "BRIDGE_ROUTES is empty: everything goes to the console.")
		steps = nil // the implied rule */* -> console has no line to show
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
		switch {
		case len(t.Mentions) == 0:
			fmt.Fprintf(stdout, "  %s\n", t)
		case facts.Result != "failure":
			fmt.Fprintf(stdout, "  %s  mention=%s (only on a failure: not for this result)\n", t, mentionsText(t))
		case !strings.HasPrefix(facts.Type, "health.") && facts.State != "complete":
			// A cancelled activity carries result failure but shows 🚫, not ❌: someone chose to stop it.
			fmt.Fprintf(stdout, "  %s  mention=%s (only on a failure: not for state %s)\n", t, mentionsText(t), facts.State)
		default:
			fmt.Fprintf(stdout, "  %s  mention=%s (pinged when the notice is a failure or critical)\n", t, mentionsText(t))
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
