package route

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Mention is one token of a rule's mention= option: who to ping, on which service, when a notice of
// that rule is a failure.
type Mention struct {
	// Service is "slack" (for slack: and slack-webhook: targets) or "discord" (for discord: and
	// discord-channel: targets).
	Service string
	// ID is the token without the service: for Slack "U0123ABCD" or "W0123ABCD" (a user), "S0123ABCD"
	// (a user group) or "here"; for Discord "112233445566778899" (a user) or "&112233445566778899" (a
	// role).
	ID string
}

// String returns the token as written in a rule, e.g. slack:S0123ABCD.
func (m Mention) String() string { return m.Service + ":" + m.ID }

var (
	slackMentionRE   = regexp.MustCompile(`^(?:[UWS][A-Z0-9]{2,20}|here)$`)
	discordMentionRE = regexp.MustCompile(`^&?[0-9]{17,20}$`)
)

const mentionHint = "use slack:U0123ABCD (user), slack:S0123ABCD (user group), slack:here, discord:112233445566778899 (user) or discord:&112233445566778899 (role)"

// ParseMention reads one mention= token, such as slack:S0123ABCD or discord:&112233445566778899.
func ParseMention(s string) (Mention, error) {
	service, id, ok := strings.Cut(s, ":")
	if !ok || id == "" {
		return Mention{}, fmt.Errorf("mention %q has no service; %s", s, mentionHint)
	}
	m := Mention{Service: service, ID: id}
	switch service {
	case "slack":
		if !slackMentionRE.MatchString(id) {
			return Mention{}, fmt.Errorf("mention %q is not a Slack user (U…, W…), user group (S…) or here; %s", s, mentionHint)
		}
	case "discord":
		if !discordMentionRE.MatchString(id) {
			return Mention{}, fmt.Errorf("mention %q is not a Discord user ID or &role ID (17 to 20 digits); %s", s, mentionHint)
		}
	default:
		return Mention{}, fmt.Errorf("mention %q names service %q; %s", s, service, mentionHint)
	}
	return m, nil
}

// parseMentions reads the value of mention= (comma-separated tokens); a token given twice is kept once.
func parseMentions(value string) ([]Mention, error) {
	var out []Mention
	for tok := range strings.SplitSeq(value, ",") {
		if tok == "" {
			return nil, fmt.Errorf("mention= has an empty token; list tokens separated by commas without spaces, e.g. mention=slack:S0123ABCD,discord:&112233445566778899")
		}
		m, err := ParseMention(tok)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// MentionService returns the service whose mention tokens a target of kind k gets: "slack" for slack:
// and slack-webhook:, "discord" for discord: and discord-channel:, "" for the console.
func MentionService(k Kind) string {
	switch k {
	case KindSlack, KindSlackWebhook:
		return "slack"
	case KindDiscord, KindDiscordChannel:
		return "discord"
	}
	return ""
}

// mentionsFor returns the IDs of the rule's mentions for target tg's service.
func (r Rule) mentionsFor(tg Target) []string {
	svc := MentionService(tg.Kind)
	var ids []string
	for _, m := range r.Mentions {
		if m.Service == svc {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// Destination is one destination of a match, with the mentions the matched rules add for its service.
type Destination struct {
	Target
	// Mentions are the IDs (Mention.ID) of every matched rule's mention= tokens for this target's
	// service, in the order written, each once. They ping only when the notice is a failure.
	Mentions []string
}

// Destinations is Match with the mentions: the destinations of an activity, each once, each with the
// mentions of every matched rule that reached it.
func (t *Table) Destinations(f Facts) []Destination {
	_, dests := t.ExplainDestinations(f)
	return dests
}

// addDestinations adds the targets of a matched rule to dests (each destination once, by String form),
// merging the rule's mentions into a destination reached before.
func addDestinations(dests []Destination, r Rule) []Destination {
	for _, tg := range r.Targets {
		ids := r.mentionsFor(tg)
		i := slices.IndexFunc(dests, func(d Destination) bool { return d.String() == tg.String() })
		if i < 0 {
			dests = append(dests, Destination{Target: tg})
			i = len(dests) - 1
		}
		for _, id := range ids {
			if !slices.Contains(dests[i].Mentions, id) {
				dests[i].Mentions = append(dests[i].Mentions, id)
			}
		}
	}
	return dests
}
