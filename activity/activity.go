// Package activity is the Platform.sh (Upsun, SymfonyCloud) activity model: it decodes the body of an
// activity webhook into an Activity, keeping only what a deploy notice needs, and offers the deploy
// helpers every other package shares (environment, head commit, live URLs, duration, status, console
// link). It never keeps the parts of a body that carry secrets or megabytes: deployment variables,
// http_access settings, the build log and the project's SSH key are skipped while decoding.
package activity

import (
	"time"
)

// State is the state of an activity as Platform.sh reports it.
type State string

// The activity states (OpenAPI Activity.state).
const (
	StatePending    State = "pending"
	StateInProgress State = "in_progress"
	StateComplete   State = "complete"
	StateCancelled  State = "cancelled"
	StateScheduled  State = "scheduled"
	StateStaged     State = "staged"
)

// States lists every state Platform.sh sends; Decode refuses any other.
var States = []State{StatePending, StateInProgress, StateComplete, StateCancelled, StateScheduled, StateStaged}

// Known reports whether s is one of States.
func (s State) Known() bool {
	for _, k := range States {
		if s == k {
			return true
		}
	}
	return false
}

// Bounds Decode puts on the fields the outbox keys on or logs: a body over them can never be a
// Platform.sh activity (its IDs are 13 lowercase letters and digits), and it would make keys and log
// lines of any size.
const (
	// MaxIDLength bounds the activity ID, which must also be printable ASCII.
	MaxIDLength = 128
	// MaxNameLength bounds the type, the project ID and every environment name.
	MaxNameLength = 256
)

// Result is the result of a finished activity; it is ResultNone (JSON null) until the activity ends.
type Result string

// The activity results.
const (
	ResultSuccess Result = "success"
	ResultFailure Result = "failure"
	ResultNone    Result = ""
)

// Status is the outcome a notice shows, derived from state, result and commands. Its values are the
// same strings as notifier.Status.
type Status string

// The statuses a notice can show.
const (
	StatusSuccess   Status = "success"
	StatusFailure   Status = "failure"
	StatusCancelled Status = "cancelled"
	StatusRunning   Status = "running"
	StatusPending   Status = "pending"
)

// Activity is one Platform.sh activity, reduced to what a deploy notice needs. Times are zero when the
// body has null or no value for them.
type Activity struct {
	ID      string
	Type    string
	Project string
	State   State
	Result  Result
	// Environments lists the environments the activity touched (usually one).
	Environments []string

	CreatedAt   time.Time
	UpdatedAt   time.Time
	StartedAt   time.Time
	CompletedAt time.Time
	CancelledAt time.Time

	CompletionPercent int
	// Timings holds seconds per phase (wait, build, deploy, execute, ...).
	Timings map[string]float64
	// Text is the activity in plain words; it may contain **bold** markers.
	Text string
	// Description is the activity in HTML (<user>, <environment>, <strong> tags).
	Description string

	Parameters Parameters
	Payload    Payload
	// Commands are the commands the activity ran (deploy hooks, ...) with their exit codes.
	Commands []Command
	// FailureReason is "error", "shell" or empty.
	FailureReason string

	// consoleOrg is "<console host>\x00<organization URL name>" when the body reveals the
	// organization's name in the console (see ConsoleURL).
	consoleOrg string
}

// Parameters holds the activity parameters the helpers and templates use. Their contents differ by
// activity type; keys not listed here are ignored, and so is a listed key with an unexpected JSON type.
type Parameters struct {
	User        string
	Environment string
	OldCommit   string
	NewCommit   string
	// From and Into are the environments of a merge or synchronize.
	From string
	Into string
	// Cron is the name of the cron job of an environment.cron activity.
	Cron string
	// Application is the app a cron or source operation ran in.
	Application     string
	SynchronizeCode bool
	SynchronizeData bool
}

// Payload holds the kept parts of the activity payload. Pointers are nil when the body has no such
// object (pending and in-progress activities carry no deployment, for example).
type Payload struct {
	User        User
	Environment *Environment
	// Commits are the pushed commits, in payload order (newest first for pushes).
	Commits []Commit
	// CommitsCount is the number of commits the push carried, which may exceed len(Commits).
	CommitsCount int
	Deployment   *Deployment
	Project      *Project
	// Cron is the cron job name of an environment.cron activity.
	Cron string
	// BackupName is the backup of an environment.backup activity.
	BackupName string
	// Variable is the variable of an environment.variable.* activity (never its value).
	Variable *Named
	// Domain is the domain of a project.domain.* activity.
	Domain *Named
}

// Named is a payload object of which only the name is kept.
type Named struct {
	Name string
}

// User is the user who triggered an activity.
type User struct {
	ID          string
	DisplayName string
}

// Environment is the environment as it is after the activity.
type Environment struct {
	Name          string
	MachineName   string
	Title         string
	Type          string // production, staging, development
	Status        string // active, inactive, paused, ...
	HeadCommit    string
	EdgeHostname  string
	DefaultDomain string
	Parent        string
	IsMain        bool
}

// Commit is one git commit of a push.
type Commit struct {
	SHA     string
	Message string
	Author  Author
}

// Author is the author of a commit. Date is zero when the body has none.
type Author struct {
	Name  string
	Email string
	Date  time.Time
}

// Deployment is the kept part of the deployment an activity produced.
type Deployment struct {
	// ProjectTitle is deployment.project_info.name (on Platform.sh often the project ID).
	ProjectTitle string
	// EnvironmentType is deployment.environment_info.environment_type.
	EnvironmentType string
	// Routes are the routes of the deployment.routes map, sorted by URL.
	Routes []Route
}

// Route is one route of a deployment. Type is "upstream" (served by an app) or "redirect" (To says
// where to).
type Route struct {
	URL         string
	Type        string
	Upstream    string
	To          string
	OriginalURL string
	Primary     bool
}

// Project is the kept part of payload.project.
type Project struct {
	ID            string
	Title         string
	Region        string
	Organization  string
	DefaultDomain string
}

// Command is one command an activity ran, such as a deploy hook.
type Command struct {
	App      string
	Type     string
	ExitCode int
}
