// Command activitybridge receives Platform.sh / Upsun / SymfonyCloud activity webhooks and posts deploy
// notices to Slack and Discord. Run `activitybridge help` for the subcommands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `activitybridge: Platform.sh / Upsun activity webhooks to Slack and Discord.

Usage:
  activitybridge [serve]                          run the service (configured by BRIDGE_* variables)
  activitybridge render [--target slack|discord|console] [--template SET] FILE|-
                                                  print exactly what would be sent for an activity body
  activitybridge routes --project P --environment E [--type T] [--state S] [--result R] [--envtype X]
                                                  explain which BRIDGE_ROUTES rule matches and where it goes
  activitybridge check                            validate the configuration and every template
  activitybridge deadletters list|replay [ID]     list or replay dead letters of the running service
  activitybridge version                          print the version

Configuration is read from the environment; see .env.example or the README.
`

// errUsage marks a bad command line: it is reported with the usage hint and exit code 2.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without os.Exit, so tests can call it.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		ctx, stop := drainContext(stderr)
		defer stop()
		err = serve(ctx, args, stdout, stderr)
	case "render":
		err = renderCmd(args, stdin, stdout)
	case "routes":
		err = routesCmd(args, stdout)
	case "check":
		err = checkCmd(args, stdout)
	case "deadletters":
		err = deadlettersCmd(args, stdout)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "activitybridge %s\n", version)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
	default:
		err = fmt.Errorf("%w: unknown command %q; run 'activitybridge help'", errUsage, cmd)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "activitybridge %s: %s\n", cmd, trimUsage(err))
		return 2
	default:
		// A configuration error may list several bad variables: one line each, each with the prefix.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "activitybridge %s: %s\n", cmd, line)
		}
		return 1
	}
}

func trimUsage(err error) string {
	s := err.Error()
	const p = "usage: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// newFlags returns a flag set that reports errors instead of exiting, and prints its help to out.
func newFlags(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

// parseFlags parses args and turns flag errors into usage errors with one readable line.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}
