package activity

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// EnvironmentName returns the environment the activity is about: environments[0], else
// parameters.environment, else payload.environment.name.
func (a *Activity) EnvironmentName() string {
	if len(a.Environments) > 0 && a.Environments[0] != "" {
		return a.Environments[0]
	}
	if a.Parameters.Environment != "" {
		return a.Parameters.Environment
	}
	if a.Payload.Environment != nil {
		return a.Payload.Environment.Name
	}
	return ""
}

// EnvironmentType returns "production", "staging", "development" or "" when the body does not say:
// payload.environment.type, else deployment.environment_info.environment_type, else "production" for
// the project's main environment (payload.environment.is_main): the older payloads (2015, 2017) carry no
// environment type, and their main environment is the production one. Those payloads carry no
// payload.project, whose default_branch newer bodies have (with a type), so is_main is the only sign.
func (a *Activity) EnvironmentType() string {
	e := a.Payload.Environment
	if e != nil && e.Type != "" {
		return e.Type
	}
	if d := a.Payload.Deployment; d != nil && d.EnvironmentType != "" {
		return d.EnvironmentType
	}
	if e != nil && e.IsMain && (e.Name == "" || e.Name == a.EnvironmentName()) {
		return "production"
	}
	return ""
}

// ProjectTitle returns the project's title: payload.project.title, else
// deployment.project_info.name, else "".
func (a *Activity) ProjectTitle() string {
	if p := a.Payload.Project; p != nil && p.Title != "" {
		return p.Title
	}
	if d := a.Payload.Deployment; d != nil {
		return d.ProjectTitle
	}
	return ""
}

// HeadCommit returns the commit the environment runs after the activity. For a push that is
// parameters.new_commit, with message and author taken from payload.commits when listed there;
// otherwise it is payload.environment.head_commit, whose message is empty unless it is among
// payload.commits. It reports false when the body names no commit.
func (a *Activity) HeadCommit() (Commit, bool) {
	sha := ""
	if a.Type == "environment.push" {
		sha = a.Parameters.NewCommit
	}
	if sha == "" && a.Payload.Environment != nil {
		sha = a.Payload.Environment.HeadCommit
	}
	if sha == "" {
		return Commit{}, false
	}
	for _, c := range a.Payload.Commits {
		if c.SHA == sha {
			return c, true
		}
	}
	return Commit{SHA: sha}, true
}

// CommitList returns payload.commits in payload order and the number of commits pushed, which is
// commits_count or len(commits), whichever is larger.
func (a *Activity) CommitList() (commits []Commit, total int) {
	return a.Payload.Commits, max(a.Payload.CommitsCount, len(a.Payload.Commits))
}

// LiveURLs returns the URLs of the routes served by an application (type upstream, never redirects):
// the primary route first, then https before http, then by URL.
func (a *Activity) LiveURLs() []string {
	if a.Payload.Deployment == nil {
		return nil
	}
	var routes []Route
	for _, r := range a.Payload.Deployment.Routes {
		if r.Type == "upstream" && r.URL != "" {
			routes = append(routes, r)
		}
	}
	slices.SortStableFunc(routes, func(x, y Route) int {
		if x.Primary != y.Primary {
			if x.Primary {
				return -1
			}
			return 1
		}
		if hx, hy := isHTTPS(x.URL), isHTTPS(y.URL); hx != hy {
			if hx {
				return -1
			}
			return 1
		}
		return strings.Compare(x.URL, y.URL)
	})
	if len(routes) == 0 {
		return nil
	}
	urls := make([]string, len(routes))
	for i, r := range routes {
		urls[i] = r.URL
	}
	return urls
}

func isHTTPS(u string) bool {
	return len(u) >= 8 && strings.EqualFold(u[:8], "https://")
}

// Duration returns how long the activity ran: completed_at (or cancelled_at) minus started_at. It
// reports false unless both ends are known and the end is not before the start.
func (a *Activity) Duration() (time.Duration, bool) {
	end := a.CompletedAt
	if end.IsZero() {
		end = a.CancelledAt
	}
	if a.StartedAt.IsZero() || end.IsZero() || end.Before(a.StartedAt) {
		return 0, false
	}
	return end.Sub(a.StartedAt), true
}

// Actor returns who triggered the activity: payload.user.display_name, else parameters.user (a
// user ID, or "admin" for the platform itself).
func (a *Activity) Actor() string {
	if a.Payload.User.DisplayName != "" {
		return a.Payload.User.DisplayName
	}
	return a.Parameters.User
}

// Status returns the outcome a notice shows. Pending, scheduled and staged activities are pending,
// in-progress ones running, cancelled ones cancelled. A complete activity is a failure when its
// result is failure or when any command exited non-zero (deploy hooks can fail in a "successful"
// activity, as the Platform.sh CLI also reports), else a success. An unknown state is pending.
func (a *Activity) Status() Status {
	switch a.State {
	case StateInProgress:
		return StatusRunning
	case StateCancelled:
		return StatusCancelled
	case StateComplete:
		if a.Result == ResultFailure || len(a.FailedCommands()) > 0 {
			return StatusFailure
		}
		return StatusSuccess
	default:
		return StatusPending
	}
}

// FailedCommands returns the commands that exited non-zero, in body order.
func (a *Activity) FailedCommands() []Command {
	var failed []Command
	for _, c := range a.Commands {
		if c.ExitCode != 0 {
			failed = append(failed, c)
		}
	}
	return failed
}

// Time returns when the activity happened: completed_at, else cancelled_at, else started_at, else
// created_at (zero when none is known).
func (a *Activity) Time() time.Time {
	for _, t := range []time.Time{a.CompletedAt, a.CancelledAt, a.StartedAt, a.CreatedAt} {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// The web consoles of the platforms the bridge serves. SymfonyCloud projects are Platform.sh projects
// (the Symfony CLI's cloud: commands wrap the Platform.sh CLI), so they use the Platform.sh console.
const (
	PlatformshConsole = "https://console.platform.sh"
	UpsunConsole      = "https://console.upsun.com"
)

// Console returns the console of the platform the body shows it comes from, or "" when it does not
// tell: the host of the subscription's management URI (console.upsun.com, console.platform.sh), else the
// hosts of the deployment's routes: *.upsunapp.com is Upsun, *.platform.sh is Platform.sh (Upsun serves
// no site there). platformsh.site and tst.site are used by both, and the region (eu-3.platform.sh) too,
// so they tell nothing.
func (a *Activity) Console() string {
	if c := consoleOfHost(a.consoleHost); c != "" {
		return c
	}
	if d := a.Payload.Deployment; d != nil {
		for _, r := range d.Routes {
			u, err := url.Parse(r.URL)
			if err != nil {
				continue
			}
			switch host := strings.ToLower(u.Hostname()); {
			case strings.HasSuffix(host, ".upsunapp.com"):
				return UpsunConsole
			case strings.HasSuffix(host, ".platform.sh"):
				return PlatformshConsole
			}
		}
	}
	return ""
}

// ConsoleBase picks the console for this activity from consoles, the value of BRIDGE_PUBLIC_CONSOLE_URL:
// comma-separated entries, each either PROJECT=URL (that project's console, whatever its body shows) or
// a URL (default https://console.platform.sh). The order of choice: the project's own entry; then, when
// the plain URL is one of the platforms' consoles (console.platform.sh, console.upsun.com), the console
// the body shows (see Console), so that one bridge serves Platform.sh, Upsun and SymfonyCloud projects
// alike; then the plain URL. A plain URL on any other host (a proxy, a white-label console) is used for
// every project without an entry. See ParseConsoles for the checks.
func (a *Activity) ConsoleBase(consoles string) string {
	return pickConsole(consoles, a.Project, a.Console)
}

// pickConsole is ConsoleBase for any notice of project: shown returns the console its body shows ("" when
// it does not tell); it is called only when the plain URL is one of the platforms' consoles.
func pickConsole(consoles, project string, shown func() string) string {
	def := PlatformshConsole
	for _, e := range strings.Split(consoles, ",") {
		e = strings.TrimSpace(e)
		if id, u, ok := cutProject(e); ok {
			if id == project {
				return strings.TrimRight(u, "/")
			}
		} else if e != "" {
			def = e
		}
	}
	def = strings.TrimRight(def, "/")
	if def == PlatformshConsole || def == UpsunConsole {
		if c := shown(); c != "" {
			return c
		}
	}
	return def
}

// consoleOfHost returns the console whose host is host (a subscription management URI's), or "".
func consoleOfHost(host string) string {
	switch {
	case strings.EqualFold(host, "console.upsun.com"):
		return UpsunConsole
	case strings.EqualFold(host, "console.platform.sh"):
		return PlatformshConsole
	}
	return ""
}

// cutProject splits a PROJECT=URL entry; ok is false for a plain URL.
func cutProject(e string) (project, u string, ok bool) {
	project, u, ok = strings.Cut(e, "=")
	if !ok || project == "" || strings.ContainsAny(project, ":/") {
		return "", "", false
	}
	return strings.TrimSpace(project), strings.TrimSpace(u), true
}

// ParseConsoles checks a BRIDGE_PUBLIC_CONSOLE_URL value (see ConsoleBase) and returns it normalised (no
// spaces, no trailing "/"), or what is wrong with it.
func ParseConsoles(consoles string) (string, error) {
	var out []string
	plain := 0
	for _, e := range strings.Split(consoles, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		project, u, isProject := cutProject(e)
		if !isProject {
			u = e
			plain++
		}
		parsed, err := url.Parse(u)
		if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return "", fmt.Errorf("%q is not an http(s) URL; use e.g. https://console.platform.sh, or "+
				"abcdefgh1234567=https://console.upsun.com for one project", u)
		}
		u = strings.TrimRight(u, "/")
		if isProject {
			u = project + "=" + u
		}
		out = append(out, u)
	}
	if plain > 1 {
		return "", errors.New("gives more than one console without a project; give one URL, and PROJECT=URL for the others")
	}
	return strings.Join(out, ","), nil
}

// ConsoleURL returns a link to this activity's log in the web console chosen by ConsoleBase(consoles).
//
// The console's links are scoped by organization: <base>/<org>/<project>/<environment>/log/<activity>,
// or <base>/<org>/<project>/-/log/<activity> for an activity without an environment (the form public
// activity scripts use for Platform.sh and Upsun; see /work/shared/reference/platform-webhooks.md §7).
// The console accepts the organization's URL name or its ID there (the Upsun CLI prints project URLs as
// <console>/<organization ID>/<project>). A webhook body names the organization's URL name only on
// Upsun, as the first part of subscription_management_uri, used when that URI is on the chosen console;
// else the organization ID of payload.project is used. A body with neither (most pushes carry no
// payload.project) gets the project-scoped form <base>/projects/<project>/..., relying on the console
// resolving a project ID under /projects/ (public pages link <console>/projects/<project>); the deep path
// after it is not confirmed by any stored source.
func (a *Activity) ConsoleURL(consoles string) string {
	base := a.ConsoleBase(consoles)
	env := a.EnvironmentName()
	if env == "" {
		env = "-"
	}
	tail := url.PathEscape(a.Project) + "/" + url.PathEscape(env) + "/log/" + url.PathEscape(a.ID)
	if host, org, ok := strings.Cut(a.consoleOrg, "\x00"); ok {
		if u, err := url.Parse(base); err == nil && strings.EqualFold(u.Host, host) {
			return base + "/" + url.PathEscape(org) + "/" + tail
		}
	}
	if p := a.Payload.Project; p != nil && p.Organization != "" {
		return base + "/" + url.PathEscape(p.Organization) + "/" + tail
	}
	return base + "/projects/" + tail
}

// Short returns the first 7 characters of the commit's SHA.
func (c Commit) Short() string {
	if len(c.SHA) > 7 {
		return c.SHA[:7]
	}
	return c.SHA
}

// Subject returns the first line of the commit message, trimmed.
func (c Commit) Subject() string {
	line, _, _ := strings.Cut(strings.TrimLeft(c.Message, " \t\r\n"), "\n")
	return strings.TrimSpace(line)
}

func sortRoutes(routes []Route) {
	slices.SortFunc(routes, func(x, y Route) int { return strings.Compare(x.URL, y.URL) })
}

// notJSONReason says what a body that is not JSON looks like instead, when it is a common mistake of a
// client (a compressed body, a form upload), so that the 400 says what to send; else "body is not JSON".
func notJSONReason(b []byte) string {
	head := b[:min(len(b), 1024)]
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "body is not JSON but gzip-compressed; send plain JSON (no Content-Encoding: gzip)"
	case bytes.HasPrefix(head, []byte("--")) && bytes.Contains(bytes.ToLower(head), []byte("content-disposition: form-data")):
		return "body is not JSON but multipart/form-data; send the activity JSON itself as the body (curl --data-binary @file.json, not -F)"
	case bytes.HasPrefix(head, []byte("payload=")) || bytes.HasPrefix(head, []byte("%7B")) || bytes.HasPrefix(head, []byte("%7b")):
		return "body is not JSON but form-encoded; send the activity JSON itself as the body (curl --data-binary @file.json)"
	}
	return "body is not JSON"
}
