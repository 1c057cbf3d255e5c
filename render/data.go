package render

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/activitybridge/activitybridge/activity"
)

// MaxCommits is how many commits Data.Commits.Shown holds; the rest are counted in Commits.More.
const MaxCommits = 5

// Data is what every template sees as its dot: the activity reduced to plain strings. Every string
// taken from the activity (commit messages, branch and user names, text) is cleaned before a template
// sees it: control characters other than newline and tab are removed and invalid UTF-8 is replaced,
// so data can never forge a field, item or link record. Strings are still untrusted: the chat
// services escape them for their markup. Empty strings and zero values mean "the body does not say".
type Data struct {
	// ID is the activity ID, such as "a1kz6ffxui7em".
	ID string
	// Type is the activity type, such as "environment.push" or "project.variable.update".
	Type string
	// Action is the last dot-separated part of Type: "push", "create", "update", "delete", ...
	Action string
	// State is the activity state: pending, in_progress, complete, cancelled, scheduled or staged.
	State string
	// Result is "success", "failure", or "" while the activity runs.
	Result string
	// Status is the outcome the message shows: success, failure, cancelled, running or pending. A
	// complete activity whose commands (deploy hooks) failed is a failure even if Result is success.
	Status string
	// Project is the project the activity belongs to.
	Project Project
	// Environment is the environment the activity is about (empty for project activities).
	Environment Environment
	// Actor is who triggered the activity: a display name such as "Cloé Weber", else a user ID.
	Actor string
	// Text is the activity in plain words, as Platform.sh writes it ("Cloé Weber pushed to Main"),
	// with its **bold** markers removed.
	Text string
	// Duration is how long the activity ran; zero while it runs or when unknown. Print it with the
	// duration function.
	Duration time.Duration
	// Time is when the activity happened: completed, else cancelled, else started, else created.
	// Print it with the utc function.
	Time time.Time
	// Head is the commit the environment runs after the activity (for a push, the new commit). Its
	// SHA is empty when the body names none; its Subject is empty when the body has no message.
	Head Commit
	// Commits are the commits a push or merge brought.
	Commits Commits
	// Live are the URLs the environment serves (upstream routes, never redirects), primary first.
	Live Live
	// Failed lists the commands that exited non-zero (deploy hooks, ...); empty when none did.
	Failed []Command
	// ConsoleURL links to the activity's log in the web console.
	ConsoleURL string
	// CompareURL links to the changes of a push of more than one commit (old...new) in the project's
	// repository (BRIDGE_REPOSITORIES); "" when none is configured or the SHAs are not hex.
	CompareURL string
	// From and Into are the environments of a merge or synchronize.
	From, Into string
	// SyncCode and SyncData say what a synchronize copied.
	SyncCode, SyncData bool
	// Cron is the cron job name of an environment.cron activity.
	Cron string
	// Application is the app a cron job or operation ran in.
	Application string
	// Variable is the variable name of a variable activity (never its value).
	Variable string
	// Domain is the domain name of a domain activity.
	Domain string
	// Backup is the backup name of a backup or restore activity.
	Backup string
	// Health is the notification of a health notice (type health.<component>); zero for an activity.
	Health Health
}

// Project is the project an activity belongs to.
type Project struct {
	// ID is the project ID, such as "abcdefgh1234567"; always set.
	ID string
	// Title is the project's title, such as "My Shop": the name BRIDGE_PROJECT_NAMES gives it, else
	// the title the body carries; empty when neither says.
	Title string
	// Name is what a header shows: Title when it is known and differs from the ID, else the ID.
	Name string
	// Label is "Title (ID)", or just the ID when the title is unknown or equal to it.
	Label string
}

// Environment is the environment an activity is about.
type Environment struct {
	// Name is the environment (branch) name, such as "main" or "feature/x".
	Name string
	// Title is the environment's title, such as "Main".
	Title string
	// Type is "production", "staging", "development", or "" when the body does not say.
	Type string
	// Parent is the parent environment's name ("" for the root environment or when unknown).
	Parent string
}

// Commit is one git commit.
type Commit struct {
	// SHA is the full commit hash.
	SHA string
	// Short is the first 7 characters of SHA.
	Short string
	// Subject is the first line of the commit message.
	Subject string
	// Author is the author's name.
	Author string
	// URL links to the commit's page in the project's repository (BRIDGE_REPOSITORIES); "" when none
	// is configured or the SHA is not hex.
	URL string
}

// Commits is the list of commits of a push or merge.
type Commits struct {
	// Shown are the first commits (at most MaxCommits), in the order Platform.sh lists them.
	Shown []Commit
	// Total is how many commits the activity brought; it may exceed the commits the body lists.
	Total int
	// More is Total minus len(Shown): the "and N more".
	More int
}

// Live are the URLs an environment serves.
type Live struct {
	// URLs are the upstream routes, primary first, then https before http.
	URLs []string
	// Primary is the first of URLs ("" when there are none).
	Primary string
	// More is len(URLs) - 1 when there are any: the "(+N more)".
	More int
}

// Command is a command an activity ran, such as a deploy hook.
type Command struct {
	// App is the application the command ran in.
	App string
	// Type is the kind of command, such as "build" or "deploy".
	Type string
	// ExitCode is the command's exit code.
	ExitCode int
}

// newData builds the data templates see from a decoded activity.
func newData(a *activity.Activity, consoleBase string) *Data {
	d := &Data{
		ID:          clean(a.ID),
		Type:        clean(a.Type),
		State:       clean(string(a.State)),
		Result:      clean(string(a.Result)),
		Status:      string(a.Status()),
		Actor:       clean(a.Actor()),
		Text:        clean(strings.ReplaceAll(a.Text, "**", "")),
		Time:        a.Time().UTC(),
		ConsoleURL:  clean(a.ConsoleURL(consoleBase)),
		From:        clean(a.Parameters.From),
		Into:        clean(a.Parameters.Into),
		SyncCode:    a.Parameters.SynchronizeCode,
		SyncData:    a.Parameters.SynchronizeData,
		Cron:        clean(firstNonEmpty(a.Payload.Cron, a.Parameters.Cron)),
		Application: clean(a.Parameters.Application),
		Backup:      clean(a.Payload.BackupName),
	}
	if i := strings.LastIndexByte(d.Type, '.'); i >= 0 {
		d.Action = d.Type[i+1:]
	} else {
		d.Action = d.Type
	}
	d.Project = newProject(clean(a.Project), clean(a.ProjectTitle()))
	d.Environment = Environment{Name: clean(a.EnvironmentName()), Type: clean(a.EnvironmentType())}
	if e := a.Payload.Environment; e != nil {
		d.Environment.Title = clean(e.Title)
		d.Environment.Parent = clean(e.Parent)
	}
	if dur, ok := a.Duration(); ok {
		d.Duration = dur
	}
	if c, ok := a.HeadCommit(); ok {
		d.Head = newCommit(c)
	}
	commits, total := a.CommitList()
	for i, c := range commits {
		if i == MaxCommits {
			break
		}
		d.Commits.Shown = append(d.Commits.Shown, newCommit(c))
	}
	d.Commits.Total = total
	d.Commits.More = max(total-len(d.Commits.Shown), 0)
	for _, u := range a.LiveURLs() {
		d.Live.URLs = append(d.Live.URLs, clean(u))
	}
	if len(d.Live.URLs) > 0 {
		d.Live.Primary = d.Live.URLs[0]
		d.Live.More = len(d.Live.URLs) - 1
	}
	for _, c := range a.FailedCommands() {
		d.Failed = append(d.Failed, Command{App: clean(c.App), Type: clean(c.Type), ExitCode: c.ExitCode})
	}
	if v := a.Payload.Variable; v != nil {
		d.Variable = clean(v.Name)
	}
	if dm := a.Payload.Domain; dm != nil {
		d.Domain = clean(dm.Name)
	}
	return d
}

// newProject returns the project id with title ("" when unknown).
func newProject(id, title string) Project {
	p := Project{ID: id, Title: title, Name: id, Label: id}
	if title != "" && title != id {
		p.Name = title
		p.Label = title + " (" + id + ")"
	}
	return p
}

// withConfig applies what the configuration says about the activity's project: its display name
// (BRIDGE_PROJECT_NAMES, which wins over the body's title) and its repository (BRIDGE_REPOSITORIES:
// links to the head commit, the listed commits and, for a push of more than one commit, the compare
// page). Only the repository's base and hex SHAs make a link.
func (d *Data) withConfig(a *activity.Activity, names map[string]string, repos map[string]Repository) {
	if name := clean(names[a.Project]); name != "" {
		d.Project = newProject(d.Project.ID, name)
	}
	repo, ok := repos[a.Project]
	if !ok {
		return
	}
	d.Head.URL = repo.CommitURL(d.Head.SHA)
	for i := range d.Commits.Shown {
		d.Commits.Shown[i].URL = repo.CommitURL(d.Commits.Shown[i].SHA)
	}
	if a.Type == "environment.push" && d.Commits.Total > 1 {
		d.CompareURL = repo.CompareURL(a.Parameters.OldCommit, a.Parameters.NewCommit)
	}
}

func newCommit(c activity.Commit) Commit {
	return Commit{
		SHA:     clean(c.SHA),
		Short:   clean(c.Short()),
		Subject: clean(c.Subject()),
		Author:  clean(c.Author.Name),
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// clean makes an untrusted string safe to hand to a template: it removes C0 and C1 control
// characters other than newline and tab (among them the record separators of record.go) and
// replaces invalid UTF-8.
func clean(s string) string {
	ok := utf8.ValidString(s)
	for i := 0; ok && i < len(s); i++ {
		// 0xC2 leads the C1 controls (and other runes): look at those rune by rune.
		if b := s[i]; (b < 0x20 && b != '\n' && b != '\t') || b == 0x7f || b == 0xC2 {
			ok = false
		}
	}
	if ok {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return -1
		}
		return r
	}, s)
}

func isControl(r rune) bool {
	return (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r < 0xa0)
}
