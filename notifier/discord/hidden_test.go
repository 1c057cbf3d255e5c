package discord

import (
	"testing"

	"github.com/activitybridge/activitybridge/notifier"
	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

// TestBuildStripsHiddenText: bidi controls and zero-width characters in untrusted text reach no part of
// the payload, while emoji joined by U+200D stay whole (the same check on both services).
func TestBuildStripsHiddenText(t *testing.T) {
	notifiertest.CheckHiddenTextStripped(t, func(m notifier.Message) any { return Build(m) })
}
