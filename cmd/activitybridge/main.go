// Command activitybridge receives Platform.sh / Upsun / SymfonyCloud activity webhooks and posts deploy
// notices to Slack and Discord. Run `activitybridge help` for the subcommands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
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
  activitybridge check                            validate the configuration and every template; warn about
                                                  unknown variables, an open endpoint and shadowed rules
  activitybridge send [--url URL] [FILE | --sample TYPE]
                                                  post a (signed) test activity to a running bridge
  activitybridge deadletters [--json] list|replay [ID]
                                                  list or replay dead letters of the running service
  activitybridge version                          print the version

Every command takes --help. Configuration is read from the environment; see .env.example or the README.
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
	} else if len(args) == 1 && slices.Contains([]string{"-h", "--help", "-help", "--version", "-version"}, args[0]) {
		cmd, args = args[0], nil // the program's help and version, not serve's
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
	case "send":
		err = sendCmd(args, stdin, stdout)
	case "deadletters":
		err = deadlettersCmd(args, stdout)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "activitybridge %s\n", version)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
	default:
		err = fmt.Errorf("%w: unknown command %q; run 'activitybridge help'", errUsage, cmd)
	}
	var help *helpError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help) && help.asked:
		fmt.Fprint(stdout, help.text)
		return 0
	case errors.As(err, &help):
		fmt.Fprintf(stderr, "activitybridge %s: %s\n%s", cmd, trimUsage(err), help.text)
		return 2
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "activitybridge %s: %s (see activitybridge %s --help)\n", cmd, trimUsage(err), cmd)
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

// newFlags returns a flag set for the subcommand name that reports errors instead of exiting. synopsis is
// the first lines of its help: the command line and what it does.
func newFlags(name, synopsis string) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &cmdFlags{FlagSet: fs, synopsis: synopsis}
}

// cmdFlags is a subcommand's flag set and the synopsis its help starts with.
type cmdFlags struct {
	*flag.FlagSet
	synopsis string
}

// helpError carries a subcommand's help: asked (--help) is printed to stdout with exit 0; otherwise (a
// bad flag) the error line and the help go to stderr with exit 2.
type helpError struct {
	err   error
	text  string
	asked bool
}

func (e *helpError) Error() string { return e.err.Error() }
func (e *helpError) Unwrap() error { return e.err }

// helpText is the synopsis and the flags of fs.
func helpText(fs *cmdFlags) string {
	var b strings.Builder
	b.WriteString("Usage:\n  " + strings.ReplaceAll(strings.TrimSpace(fs.synopsis), "\n", "\n  ") + "\n")
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		b.WriteString("\nFlags:\n")
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return b.String()
}

// parseFlags parses args, flags before or after the positional arguments (`deadletters list --json`),
// and turns --help into the command's help and a bad flag into a usage error carrying it.
func parseFlags(fs *cmdFlags, args []string) error {
	if err := fs.Parse(reorder(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &helpError{err: err, text: helpText(fs), asked: true}
		}
		return &helpError{err: fmt.Errorf("%w: %v", errUsage, err), text: helpText(fs)}
	}
	return nil
}

// reorder moves flags before positional arguments so that `render FILE --target discord` and
// `deadletters list --json` work too. A flag that is not boolean takes the next argument as its value
// unless written --name=value.
func reorder(fs *cmdFlags, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--":
			return append(append(flags, "--"), append(pos, args[i+1:]...)...)
		case len(a) > 1 && a[0] == '-':
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") || isBoolFlag(fs, name) {
				continue
			}
			if i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			pos = append(pos, a)
		}
	}
	return append(flags, pos...)
}

func isBoolFlag(fs *cmdFlags, name string) bool {
	f := fs.Lookup(name)
	if f == nil {
		return name == "h" || name == "help"
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
