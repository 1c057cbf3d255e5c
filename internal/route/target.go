package route

import (
	"fmt"
	"strings"
	"unicode"
)

// Kind is the kind of a destination: which service and which way of reaching it.
type Kind string

// The target kinds of BRIDGE_ROUTES.
const (
	// KindSlack posts with the bot token (BRIDGE_SLACK_TOKEN) to a channel given as #name or ID; it can edit.
	KindSlack Kind = "slack"
	// KindSlackWebhook posts to a named incoming webhook (BRIDGE_SLACK_WEBHOOKS); it cannot edit.
	KindSlackWebhook Kind = "slack-webhook"
	// KindDiscord posts to a named Discord webhook (BRIDGE_DISCORD_WEBHOOKS); it can edit.
	KindDiscord Kind = "discord"
	// KindDiscordChannel posts with the bot token (BRIDGE_DISCORD_TOKEN) to a channel ID; it can edit.
	KindDiscordChannel Kind = "discord-channel"
	// KindConsole prints the rendered message to stdout.
	KindConsole Kind = "console"
)

// DefaultSet is the template set a target uses when it names none.
const DefaultSet = "default"

// Target is one destination of a rule, e.g. slack:#deploys@compact.
type Target struct {
	// Kind is the service and the way of reaching it.
	Kind Kind
	// Name is the Slack "#channel" or channel ID, the webhook name, the Discord channel ID, or "" for console.
	Name string
	// Set is the template set, DefaultSet when the target names none.
	Set string
}

// Console is the target every activity goes to when BRIDGE_ROUTES is empty.
var Console = Target{Kind: KindConsole, Set: DefaultSet}

const kindsHint = "use slack:, slack-webhook:, discord:, discord-channel: or console"

// ParseTarget reads one target: "slack:#deploys", "slack:C0123ABCD@compact", "slack-webhook:previews",
// "discord:prod", "discord-channel:123456789012345678" or "console". Its error says what a good target
// looks like.
func ParseTarget(s string) (Target, error) {
	if s == "" {
		return Target{}, fmt.Errorf("empty target; write one such as slack:#deploys or console")
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return Target{}, fmt.Errorf("target %q contains a space; separate targets with commas, e.g. slack:#deploys, discord:prod", s)
	}
	rest, set, hasSet := strings.Cut(s, "@")
	if hasSet {
		if set == "" {
			return Target{}, fmt.Errorf("target %q has an empty template set after @; name one, e.g. %s@compact, or drop the @", s, rest)
		}
		if !isName(set) {
			return Target{}, fmt.Errorf("template set %q in %q may use only a-z, 0-9, - and _; e.g. %s@compact", set, s, rest)
		}
	} else {
		set = DefaultSet
	}
	kind, name, hasName := strings.Cut(rest, ":")
	t := Target{Kind: Kind(kind), Name: name, Set: set}
	switch t.Kind {
	case KindConsole:
		if hasName {
			return Target{}, fmt.Errorf("target %q: console takes no name; write console (or console@set)", s)
		}
		return t, nil
	case KindSlack:
		switch {
		case strings.HasPrefix(name, "#"):
			if err := checkSlackChannelName(name[1:]); err != "" {
				return Target{}, fmt.Errorf("channel %q %s", name, err)
			}
		case isSlackChannelID(name):
		default:
			return Target{}, fmt.Errorf("target %q needs a #channel-name or a Slack channel ID; use e.g. slack:#deploys or slack:C0123ABCD", s)
		}
	case KindSlackWebhook, KindDiscord:
		what, example := "Slack incoming webhook", "slack-webhook:previews"
		if t.Kind == KindDiscord {
			what, example = "Discord webhook", "discord:prod"
		}
		if name == "" {
			return Target{}, fmt.Errorf("target %q needs the name of a %s; use e.g. %s", s, what, example)
		}
		if !isName(name) {
			return Target{}, fmt.Errorf("webhook name %q in %q may use only a-z, 0-9, - and _; use e.g. %s", name, s, example)
		}
	case KindDiscordChannel:
		if !isSnowflake(name) {
			return Target{}, fmt.Errorf("target %q needs a numeric Discord channel ID; use e.g. discord-channel:123456789012345678", s)
		}
	default:
		return Target{}, fmt.Errorf("unknown target kind %q; %s", kind, kindsHint)
	}
	return t, nil
}

// String returns the target in the canonical form ParseTarget reads, kind:name@set, leaving out
// @default.
func (t Target) String() string {
	s := t.Service()
	if t.Set != "" && t.Set != DefaultSet {
		s += "@" + t.Set
	}
	return s
}

// Service returns kind:name without the template set ("console" for the console): the identity of
// the notifier that delivers to this target.
func (t Target) Service() string {
	if t.Kind == KindConsole {
		return string(KindConsole)
	}
	return string(t.Kind) + ":" + t.Name
}

// isName reports whether s is a non-empty name of a-z, 0-9, - and _ (webhook names and template sets).
func isName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// checkSlackChannelName says what is wrong with a channel name (without #), or "" when it is fine.
// Slack names are lowercase, at most 80 characters, without spaces or periods; non-Latin letters are
// allowed.
func checkSlackChannelName(n string) string {
	switch {
	case n == "":
		return "has no name after #; use e.g. slack:#deploys"
	case len([]rune(n)) > 80:
		return "is longer than 80 characters, Slack's limit"
	}
	for _, r := range n {
		switch {
		case unicode.IsUpper(r):
			return fmt.Sprintf("has uppercase letters; Slack channel names are lowercase, e.g. #%s", strings.ToLower(n))
		case r == '-' || r == '_' || unicode.IsDigit(r) || unicode.IsLetter(r):
		default:
			return fmt.Sprintf("contains %q; Slack channel names use lowercase letters, digits, - and _", r)
		}
	}
	return ""
}

// isSlackChannelID reports whether s looks like a Slack conversation ID: C (channel), G (private) or
// D (direct message), then uppercase letters and digits.
func isSlackChannelID(s string) bool {
	if len(s) < 3 || strings.IndexByte("CGD", s[0]) < 0 {
		return false
	}
	for _, r := range s[1:] {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// isSnowflake reports whether s is a Discord ID: 1 to 20 decimal digits.
func isSnowflake(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
