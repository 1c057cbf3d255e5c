package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/config"
	"github.com/activitybridge/activitybridge/internal/route"
	"github.com/activitybridge/activitybridge/notifier"
	"github.com/activitybridge/activitybridge/notifier/console"
	"github.com/activitybridge/activitybridge/notifier/discord"
	"github.com/activitybridge/activitybridge/notifier/slack"
	"github.com/activitybridge/activitybridge/render"
)

// projectNames reads a BRIDGE_PROJECT_NAMES value (flag or environment) for routes and render.
func projectNames(value string) (config.ProjectNames, error) {
	var names config.ProjectNames
	if err := names.Decode(value); err != nil {
		return nil, fmt.Errorf("BRIDGE_PROJECT_NAMES: %w", err)
	}
	return names, nil
}

// repositories reads a BRIDGE_REPOSITORIES value for render.
func repositories(value string) (config.Repositories, error) {
	var repos config.Repositories
	if err := repos.Decode(value); err != nil {
		return nil, fmt.Errorf("BRIDGE_REPOSITORIES: %w", err)
	}
	return repos, nil
}

// titled returns "id (Title)" when names has a title for id, else id.
func titled(id string, names config.ProjectNames) string {
	if t := names[id]; t != "" {
		return id + " (" + t + ")"
	}
	return id
}

// mentionsText lists the mentions a destination gets, as written in the rules.
func mentionsText(d route.Destination) string {
	toks := make([]string, len(d.Mentions))
	for i, id := range d.Mentions {
		toks[i] = route.MentionService(d.Kind) + ":" + id
	}
	return strings.Join(toks, ",")
}

// renderInput decodes a render input: an activity, else a health notification, and renders it.
func renderInput(r *render.Renderer, body []byte, set string) (notifier.Message, error) {
	act, err := activity.Decode(body)
	if err == nil {
		return r.Render(act, set)
	}
	h, err := activity.DecodeHealthInstead(body, err)
	if err != nil {
		return notifier.Message{}, err
	}
	return r.RenderHealth(h, set)
}

// printWithMentions prints what a failure with mentions sends: for slack and discord a JSON object with, in
// this order, "post" (the message when it is posted anew: it carries the mentions), "edit" (the message
// when it edits the earlier one) and "reply" (the message that then carries the mentions: a Slack thread
// reply with reply_broadcast, a Discord reply), and for discord "webhook_reply" (what a Discord webhook,
// which cannot reply, posts instead: a new message linking the original); for the console the message and
// the reply's text.
func printWithMentions(w io.Writer, target string, msg notifier.Message) error {
	edit := msg
	edit.Mentions = nil
	var out any
	switch target {
	case "slack":
		reply := slack.BuildReply(msg)
		out = struct {
			Post  slack.Payload `json:"post"`
			Edit  slack.Payload `json:"edit"`
			Reply any           `json:"reply"`
		}{slack.Build(msg), slack.Build(edit),
			map[string]any{"thread_ts": "<ts of the message>", "reply_broadcast": true, "text": reply.Text, "blocks": reply.Blocks}}
	case "discord":
		reply := discord.BuildReply(msg, "")
		out = struct {
			Post         discord.Payload `json:"post"`
			Edit         discord.Payload `json:"edit"`
			Reply        any             `json:"reply"`
			WebhookReply discord.Payload `json:"webhook_reply"`
		}{discord.Build(msg), discord.Build(edit),
			map[string]any{"content": reply.Content, "allowed_mentions": reply.AllowedMentions,
				"message_reference": map[string]any{"message_id": "<id of the message>", "fail_if_not_exists": false}},
			discord.BuildReply(msg, "https://discord.com/channels/GUILD/CHANNEL/MESSAGE")}
	default:
		if _, err := io.WriteString(w, console.Format(edit)); err != nil {
			return err
		}
		_, err := fmt.Fprintf(w, "reply (a failure pings: %s)\n", strings.Join(msg.Mentions, ", "))
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// mentionsFor returns the IDs of the mention tokens (mention= syntax) for a render target's service.
func mentionsFor(tokens, target string) ([]string, error) {
	if tokens == "" {
		return nil, nil
	}
	tbl, err := route.Parse("*/* mention=" + tokens + " -> console")
	if err != nil {
		return nil, fmt.Errorf("%w: --mention: %s", errUsage, strings.TrimPrefix(err.Error(), "BRIDGE_ROUTES line 1: "))
	}
	var ids []string
	for _, m := range tbl.Rules[0].Mentions {
		if m.Service == target {
			ids = append(ids, m.ID)
		}
	}
	return ids, nil
}

// printRules lists the rules for check, each project ID with its title (BRIDGE_PROJECT_NAMES), and
// the configured titles and repositories no rule names by ID.
func printRules(w io.Writer, cfg *config.Config) {
	named := map[string]bool{}
	for _, r := range cfg.Table.Rules {
		named[r.Project] = true
		fmt.Fprintf(w, "  line %d: %s\n", r.Line, strings.Replace(r.String(), r.Project+"/", titled(r.Project, cfg.ProjectNames)+"/", 1))
	}
	for _, id := range slices.Sorted(maps.Keys(cfg.ProjectNames)) {
		if !named[id] {
			fmt.Fprintf(w, "  project %s is titled %q; no rule names it by ID (a glob may still match it)\n", id, cfg.ProjectNames[id])
		}
	}
}
