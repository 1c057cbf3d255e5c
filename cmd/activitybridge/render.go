package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/activitybridge/activitybridge/notifier/console"
	"github.com/activitybridge/activitybridge/notifier/discord"
	"github.com/activitybridge/activitybridge/notifier/slack"
	"github.com/activitybridge/activitybridge/render"
)

// maxRenderInput caps what `render` reads, like BRIDGE_MAX_BODY's default caps the service.
const maxRenderInput = 32 << 20

func renderCmd(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlags("render", `activitybridge render [--target slack|discord|console] [--template SET] FILE|-
print exactly what would be sent for an activity or health notification body (FILE, or - for standard
input); with --mention, for a failure: the message posted anew, as an edit, and the reply carrying the mentions`)
	target := fs.String("target", "slack", "what to print: slack (Block Kit JSON), discord (webhook JSON) or console (text)")
	set := fs.String("template", "default", "template set, e.g. default or compact")
	dir := fs.String("templates-dir", os.Getenv("BRIDGE_TEMPLATES_DIR"), "folder of .tmpl overrides (from $BRIDGE_TEMPLATES_DIR)")
	consoleURL := fs.String("console-url", envOr("BRIDGE_PUBLIC_CONSOLE_URL", "https://console.platform.sh"), "console of the View activity link: a URL, or PROJECT=URL entries (from $BRIDGE_PUBLIC_CONSOLE_URL)")
	namesFlag := fs.String("project-names", os.Getenv("BRIDGE_PROJECT_NAMES"), "project titles, id=title,... (from $BRIDGE_PROJECT_NAMES)")
	reposFlag := fs.String("repositories", os.Getenv("BRIDGE_REPOSITORIES"), "repositories for commit links, id=URL,... (from $BRIDGE_REPOSITORIES)")
	mention := fs.String("mention", "", "mention= tokens of a rule, e.g. 'slack:S0123ABCD,discord:&112233445566778899' (quoted: & is special to a shell): show the reply a failure posts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: give one activity file, or - for standard input", errUsage)
	}
	switch *target {
	case "slack", "discord", "console":
	default:
		return fmt.Errorf("%w: --target %q is not known; use slack, discord or console", errUsage, *target)
	}
	body, err := readInput(fs.Arg(0), stdin)
	if err != nil {
		return err
	}
	names, err := projectNames(*namesFlag)
	if err != nil {
		return err
	}
	repos, err := repositories(*reposFlag)
	if err != nil {
		return err
	}
	ids, err := mentionsFor(*mention, *target)
	if err != nil {
		return err
	}
	r, err := render.New(render.Options{Dir: *dir, ConsoleURL: *consoleURL, ProjectNames: names, Repositories: repos})
	if err != nil {
		return err
	}
	msg, err := renderInput(r, body, *set)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	if *mention != "" && msg.Status.Failing() && (len(ids) > 0 || *target == "console") {
		msg.Mentions = ids
		if *target == "console" {
			msg.Mentions = strings.Split(*mention, ",")
		}
		return printWithMentions(stdout, *target, msg)
	}
	var out any
	switch *target {
	case "slack":
		out = slack.Build(msg)
	case "discord":
		out = discord.Build(msg)
	default:
		_, err := io.WriteString(stdout, console.Format(msg))
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	body, err := io.ReadAll(io.LimitReader(r, maxRenderInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(body) > maxRenderInput {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxRenderInput)
	}
	return body, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
