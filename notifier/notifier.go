// Package notifier holds what every chat service shares: the Notifier interface, the neutral rendered
// Message, the reference to a posted message (for later edits) and the delivery error kinds the outbox
// worker acts on. Each chat service lives in its own subpackage (slack, discord, console) and imports
// only this package; this package imports none of them.
package notifier

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Notifier delivers one rendered message to one destination. When prev is set and the service can
// edit, it edits that message instead of posting a new one, and returns the reference to keep for
// the next edit. When msg also carries Mentions, an edit (which notifies nobody) is followed by a
// short reply tied to prev that carries them; Send fails if that reply fails, so that the worker's
// retry repeats the edit (same content) and sends the reply then. A service that cannot edit (a Slack incoming webhook) ignores prev and returns the
// zero Ref. Implementations never retry or sleep: the outbox worker owns retries and pacing. Errors
// say how to go on (see RetryAfterError, IsPermanent and IsGone) and never contain a credential.
type Notifier interface {
	Send(ctx context.Context, msg Message, prev Ref) (Ref, error)
}

// Ref points at a message a service posted, so that a later state of the same activity can edit it.
// Channel is the channel the service answered with (a Slack channel ID, a Discord channel ID); ID is
// the message itself (a Slack ts, a Discord message snowflake).
type Ref struct {
	Channel string `json:"channel,omitempty"`
	ID      string `json:"id,omitempty"`
}

// IsZero reports whether r points at no message.
func (r Ref) IsZero() bool { return r.ID == "" }

// Status is the overall outcome a message shows: it picks the emoji and the colour.
type Status string

// The statuses, from activity.Status.
const (
	StatusSuccess   Status = "success"
	StatusFailure   Status = "failure"
	StatusCancelled Status = "cancelled"
	StatusRunning   Status = "running"
	StatusPending   Status = "pending"
	// StatusWarning and StatusCritical are the severities of a health notification (low disk space:
	// warning under 20% free, critical under 10%).
	StatusWarning  Status = "warning"
	StatusCritical Status = "critical"
)

// Emoji is the status sign every service puts before the title ("⚪" for an unknown status).
func (s Status) Emoji() string {
	switch s {
	case StatusSuccess:
		return "✅"
	case StatusFailure:
		return "❌"
	case StatusCancelled:
		return "🚫"
	case StatusRunning:
		return "⏳"
	case StatusPending:
		return "🕓"
	case StatusWarning:
		return "⚠️"
	case StatusCritical:
		return "🚨"
	}
	return "⚪"
}

// Message is one rendered notice, neutral of any chat service. Every string is plain text that may
// hold untrusted input (commit messages, branch and user names): each service escapes it for its own
// markup, builds links only from Link values, and fits the result within its limits, cutting List
// first, then Text, and never Title or a Field marked Keep.
type Message struct {
	Status Status `json:"status"`
	// Title is the one-line header: status, environment, project.
	Title string `json:"title"`
	// Text is the activity in plain words, with the duration.
	Text string `json:"text,omitempty"`
	// Fields are labelled facts shown in order (Commit, Live, Failed, ...).
	Fields []Field `json:"fields,omitempty"`
	// List is the list of commits (or other items): the first part cut when a message is too long.
	List *List `json:"list,omitempty"`
	// Links become buttons (Slack) or links in the description (Discord).
	Links []Link `json:"links,omitempty"`
	// Footer is the context line: environment type, activity type, time.
	Footer string `json:"footer,omitempty"`
	// Time is when the activity happened (completed, else started, else created).
	Time time.Time `json:"time,omitzero"`
	// Mentions are who this message pings, as the mention= tokens of the rule that routed it, for the
	// destination's service only and without the service prefix: Slack "U0123ABCD" (user), "W0123ABCD"
	// (user), "S0123ABCD" (user group) or "here"; Discord "112233445566778899" (user) or
	// "&112233445566778899" (role). They are set only on failures (and critical health notices). A
	// service that posts a new message puts them in it; one that edits an earlier message (which
	// notifies nobody) edits it, then posts a short reply tied to it that carries them. Each service
	// checks every token again and builds the mention markup itself: nothing else in a message can ping.
	Mentions []string `json:"mentions,omitempty"`
}

// Field is one labelled fact. Value may span lines.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Keep marks a field that is never cut to fit a size limit (the live URLs).
	Keep bool `json:"keep,omitempty"`
	// URL, when set, makes Value a link to it (the head commit, the primary live URL).
	URL string `json:"url,omitempty"`
}

// List is a titled list of items of which only the first few are shown; More counts the items left
// out before any cutting for size (the "and 37 more").
type List struct {
	Name  string   `json:"name"`
	Items []string `json:"items"`
	More  int      `json:"more,omitempty"`
	// URLs, when set, holds a URL per item ("" for none): the first word of item i (a commit's short
	// SHA) links to URLs[i].
	URLs []string `json:"urls,omitempty"`
}

// ItemURL returns the URL of item i, or "".
func (l *List) ItemURL(i int) string {
	if l == nil || i < 0 || i >= len(l.URLs) {
		return ""
	}
	return l.URLs[i]
}

// Failing reports whether s is a status that pings the mentions of its rule: a failure, or a critical
// health notice.
func (s Status) Failing() bool { return s == StatusFailure || s == StatusCritical }

// Link is a labelled URL: a button on Slack, a masked link on Discord.
type Link struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

// RetryAfterError says the service asked us to wait exactly After before trying again (HTTP 429 with
// Retry-After, Slack "ratelimited", Discord retry_after).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("rate limited, retry after %s: %v", e.After, e.Err)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter wraps err to say the service asked for a wait of d.
func RetryAfter(d time.Duration, err error) error { return &RetryAfterError{After: d, Err: err} }

// RetryAfterOf returns the wait a service asked for, if err carries one.
func RetryAfterOf(err error) (time.Duration, bool) {
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return ra.After, true
	}
	return 0, false
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err to say that trying again cannot help (bad credentials, unknown channel, a
// payload the service refuses): the job becomes a dead letter at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type goneError struct{ err error }

func (e *goneError) Error() string { return e.err.Error() }
func (e *goneError) Unwrap() error { return e.err }

// Gone wraps err to say that the message an edit was aimed at no longer exists (Slack
// message_not_found, Discord 10008): the caller posts a new message instead.
func Gone(err error) error {
	if err == nil {
		return nil
	}
	return &goneError{err: err}
}

// IsGone reports whether err was marked Gone.
func IsGone(err error) bool {
	var g *goneError
	return errors.As(err, &g)
}

// Pace is the documented send rate of one destination: at most Burst messages at once, then one every
// Every. The outbox worker paces each destination by it so that a burst does not run into 429s.
type Pace struct {
	Every time.Duration
	Burst int
}

// Paced is implemented by notifiers whose destination has a documented send rate.
type Paced interface {
	Pace() Pace
}
