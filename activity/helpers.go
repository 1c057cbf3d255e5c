package activity

import (
	"bytes"
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
// payload.environment.type, else deployment.environment_info.environment_type.
func (a *Activity) EnvironmentType() string {
	if e := a.Payload.Environment; e != nil && e.Type != "" {
		return e.Type
	}
	if d := a.Payload.Deployment; d != nil {
		return d.EnvironmentType
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

// ConsoleURL returns a link to this activity's log in the web console at base (for example
// https://console.platform.sh, from BRIDGE_PUBLIC_CONSOLE_URL).
//
// The console's own links are scoped by the organization's URL name:
// <base>/<org>/<project>/<environment>/log/<activity>, or <base>/<org>/<project>/-/log/<activity> for
// an activity without an environment (forms used by public activity scripts, see
// /work/shared/reference/platform-webhooks.md §7). A webhook body names the organization only by ID,
// except that on Upsun the subscription_management_uri starts with the organization's name; when that
// URI is on the same host as base, that name is used. Otherwise the link uses the project-scoped form
// <base>/projects/<project>/..., relying on the console resolving a project ID under /projects/
// (public pages link https://console.upsun.com/projects/<project> as a project's console URL); the
// deep path after it is not confirmed by any stored source and needs a check against a live console.
func (a *Activity) ConsoleURL(base string) string {
	base = strings.TrimRight(base, "/")
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
