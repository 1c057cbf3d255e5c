package app

import (
	"context"
	"fmt"
	"slices"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/receiver"
	"github.com/activitybridge/activitybridge/internal/route"
	"github.com/activitybridge/activitybridge/notifier"
)

// withMentions returns msg carrying the mentions its rule adds for its destination, when msg is a failure
// (or a critical health notice): the notifier puts them in a new message, or in a reply to the message it
// edits. The mentions travel inside the persisted job, so a retried or replayed job pings the same people.
func withMentions(msg notifier.Message, ids []string) notifier.Message {
	if len(ids) > 0 && msg.Status.Failing() {
		msg.Mentions = slices.Clone(ids)
	}
	return msg
}

// acceptHealth is Accept for a body that is not an activity: a health notification (health.webhook) is
// routed with type health.<component>, its project and environment, rendered and persisted like an
// activity, under its derived ID and the state complete (each notification is one message; the same one
// received twice is a duplicate). Any other body is a bad request: actErr says why it is not an activity,
// unless the body has an event object, then the health decoding's error does.
func (a *App) acceptHealth(ctx context.Context, body []byte, actErr error) (string, int, error) {
	h, err := activity.DecodeHealthInstead(body, actErr)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %w", receiver.ErrBadRequest, err)
	}
	facts := route.Facts{
		Project:     h.Project,
		Environment: h.Environment,
		Type:        h.Type(),
		State:       string(activity.StateComplete),
		Result:      string(h.Result()),
	}
	return a.queue(ctx, h.ID, facts, func(set string) notifier.Message {
		msg, err := a.renderer.RenderHealth(h, set)
		if err != nil {
			a.log.Error().Err(err).Str("activity", h.ID).Str("type", h.Type()).Str("set", set).Msg("template failed; sending a plain notice")
			return plainHealth(h)
		}
		return msg
	})
}

// plainHealth builds a health notice without templates, for the rare notification a template could not
// render.
func plainHealth(h *activity.Health) notifier.Message {
	return notifier.Message{
		Status: notifier.Status(h.Status()),
		Title:  fmt.Sprintf("%s %s on %s · %s · %s", h.Type(), h.Severity, h.Service, h.Environment, h.Project),
		Text:   h.Message,
		Footer: fmt.Sprintf("%s · %s", h.MachineName, h.Type()),
		Time:   h.Time,
	}
}
