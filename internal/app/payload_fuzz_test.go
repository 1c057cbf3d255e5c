package app_test

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/notifier"
	"github.com/activitybridge/activitybridge/notifier/discord"
	"github.com/activitybridge/activitybridge/notifier/notifiertest"
	"github.com/activitybridge/activitybridge/notifier/slack"
	"github.com/activitybridge/activitybridge/render"
)

// slackLiveRE finds Slack's live markup: mentions (<!…>, <@…>, <#…>) and links (<http…>, <mailto:…>).
var slackLiveRE = regexp.MustCompile(`<([!@#]|[a-zA-Z][a-zA-Z0-9+.-]*:)[^>]*>?`)

// discordLinkRE finds Discord masked links [label](url) not preceded by a backslash.
var discordLinkRE = regexp.MustCompile(`(^|[^\\])\[[^\]]*\]\(\s*<?([^)\s>]*)`)

// FuzzRenderedPayloads renders an activity whose commit message, branch, user name and text are fuzzed,
// with every template set, and builds the Slack and Discord payloads from it. Invariants: within every
// platform limit the fakes enforce, no Slack mention in mrkdwn or the fallback text, and no Slack or Discord link to a host other than
// the console's or the live URLs' (untrusted text cannot add a link target); Discord always sends
// allowed_mentions parse []. Never a panic.
func FuzzRenderedPayloads(f *testing.F) {
	for _, h := range notifiertest.Hostile {
		f.Add(h, h, h, h)
	}
	f.Add("Add cron", "main", "Cloé Weber", "Cloé Weber pushed to **Main**")
	f.Add(strings.Repeat("<!channel> ", 2000), "feat/<@U1>", strings.Repeat("@here", 300), strings.Repeat("[x](https://evil.example)", 500))
	f.Add("<https://evil.example|https://console.platform.sh>", "<http://evil.example>", "<mailto:a@evil.example|x>", "<tel:1>")
	r, err := render.New(render.Options{ConsoleURL: "https://console.platform.sh"})
	if err != nil {
		f.Fatal(err)
	}
	base, err := activity.Decode(fixture.WithUntrusted("m", "main", "u", "t"))
	if err != nil {
		f.Fatal(err)
	}
	hosts := map[string]bool{"console.platform.sh": true}
	for _, u := range base.LiveURLs() {
		if p, err := url.Parse(u); err == nil {
			hosts[p.Host] = true
		}
	}
	f.Fuzz(func(t *testing.T, message, branch, user, text string) {
		a, err := activity.Decode(fixture.WithUntrusted(message, branch, user, text))
		if err != nil {
			return // the receiver answers 400; nothing is rendered
		}
		for _, set := range r.Sets() {
			msg, err := r.Render(a, set)
			if err != nil {
				t.Fatalf("set %s: Render: %v", set, err)
			}
			checkSlack(t, set, msg, hosts)
			checkDiscord(t, set, msg, hosts)
		}
	})
}

func checkHost(t *testing.T, where, raw string, hosts map[string]bool) {
	t.Helper()
	raw = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(raw)
	p, err := url.Parse(raw)
	if err != nil || !hosts[p.Host] {
		t.Errorf("%s: link to %q, which untrusted text chose", where, raw)
	}
}

func checkSlack(t *testing.T, set string, msg notifier.Message, hosts map[string]bool) {
	t.Helper()
	p := slack.Build(msg)
	blocks, err := json.Marshal(p.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	if problems := notifiertest.SlackBlockProblems(blocks); problems != nil {
		t.Fatalf("set %s: Slack would refuse the blocks: %v", set, problems)
	}
	mrkdwn, err := notifiertest.SlackMrkdwnTexts(blocks)
	if err != nil {
		t.Fatal(err)
	}
	texts := append([]string{p.Text}, mrkdwn...)
	for _, s := range texts {
		for _, m := range slackLiveRE.FindAllString(s, -1) {
			target := strings.TrimSuffix(strings.TrimPrefix(m, "<"), ">")
			target, _, _ = strings.Cut(target, "|")
			switch {
			case strings.HasPrefix(target, "https://") || strings.HasPrefix(target, "http://"):
				checkHost(t, "set "+set+": Slack", target, hosts)
			default:
				t.Errorf("set %s: Slack text has live markup %q: %.200q", set, m, s)
			}
		}
	}
}

func checkDiscord(t *testing.T, set string, msg notifier.Message, hosts map[string]bool) {
	t.Helper()
	p := discord.Build(msg)
	body, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if problem := notifiertest.DiscordBodyProblem(body); problem != "" {
		t.Fatalf("set %s: Discord would refuse the message: %s", set, problem)
	}
	if !strings.Contains(string(body), `"allowed_mentions":{"parse":[]`) {
		t.Errorf("set %s: allowed_mentions is not parse []: %.300s", set, body)
	}
	texts := []string{p.Content}
	for _, e := range p.Embeds {
		texts = append(texts, e.Title, e.Description)
		if e.URL != "" {
			checkHost(t, "set "+set+": Discord embed URL", e.URL, hosts)
		}
		for _, fl := range e.Fields {
			texts = append(texts, fl.Name, fl.Value)
		}
		if e.Footer != nil {
			texts = append(texts, e.Footer.Text)
		}
	}
	for _, s := range texts {
		for _, m := range discordLinkRE.FindAllStringSubmatch(s, -1) {
			checkHost(t, "set "+set+": Discord masked link", m[2], hosts)
		}
	}
}
