package notifiertest

import (
	"github.com/activitybridge/activitybridge/notifier"
)

// The outcomes Outcome reports.
const (
	OutcomeOK         = "ok"
	OutcomeRetryAfter = "retry-after"
	OutcomePermanent  = "permanent"
	OutcomeGone       = "gone"
	OutcomeRetryable  = "retryable"
)

// Outcome says what the outbox worker would do with err: nothing (ok), wait exactly (retry-after),
// give up (permanent), post anew (gone) or back off and try again (retryable).
func Outcome(err error) string {
	switch {
	case err == nil:
		return OutcomeOK
	case notifier.IsGone(err):
		return OutcomeGone
	case notifier.IsPermanent(err):
		return OutcomePermanent
	}
	if _, ok := notifier.RetryAfterOf(err); ok {
		return OutcomeRetryAfter
	}
	return OutcomeRetryable
}
