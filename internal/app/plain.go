package app

import (
	"fmt"
	"strings"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/notifier"
)

// plainMessage builds a notice without templates, for the rare payload a template could not render. It
// carries the facts a reader must never miss: status, environment, project, live URL and the console link.
func plainMessage(a *activity.Activity, consoleURL string) notifier.Message {
	env := a.EnvironmentName()
	if env == "" {
		env = "(no environment)"
	}
	msg := notifier.Message{
		Status: notifier.Status(a.Status()),
		Title:  fmt.Sprintf("%s %s · %s", a.Type, a.Status(), a.Project),
		Text:   strings.ReplaceAll(a.Text, "**", ""),
		Footer: fmt.Sprintf("%s · %s · %s", env, a.Type, a.State),
		Time:   a.Time(),
	}
	if urls := a.LiveURLs(); len(urls) > 0 {
		msg.Fields = append(msg.Fields, notifier.Field{Name: "Live", Value: urls[0], Keep: true})
	}
	if u := a.ConsoleURL(consoleURL); u != "" {
		msg.Links = append(msg.Links, notifier.Link{Label: "View activity", URL: u})
	}
	return msg
}
