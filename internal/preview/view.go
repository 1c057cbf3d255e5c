package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/notifier/discord"
	"github.com/activitybridge/activitybridge/notifier/slack"
	"github.com/activitybridge/activitybridge/render"
)

// samples are the fixtures shown on the page, in order: a success, a failure and a running deploy.
var samples = []string{"environment.push", "push-failure", "push-in-progress"}

// notice is one sample as both clients show it.
type notice struct {
	Name    string
	Slack   slackView
	Discord discordView
}

// span is a run of inline text: bold or not, a link when URL is set. The page template escapes it.
type span struct {
	Text string
	Bold bool
	URL  string
}

// slackView is a Slack message: the post time and its blocks.
type slackView struct {
	Time   string
	Blocks []slackBlock
}

// slackBlock is one Block Kit block: Kind is header, section, fields, actions or context.
type slackBlock struct {
	Kind    string
	Text    []span
	Fields  [][]span
	Buttons []button
}

// button is a Slack link button.
type button struct {
	Label string
	URL   string
}

// discordView is a Discord message with one embed.
type discordView struct {
	Time        string
	Color       string
	Title       []span
	Description []span
	Rows        [][]discordField
	Footer      string
}

// discordField is an embed field.
type discordField struct {
	Name  []span
	Value []span
}

// build renders each fixture with the template set and turns the Slack and Discord payloads into views.
func build(names []string, set string) ([]notice, error) {
	r, err := render.New(render.Options{})
	if err != nil {
		return nil, err
	}
	var out []notice
	for _, name := range names {
		a, err := activity.Decode(fixture.Bytes(name))
		if err != nil {
			return nil, fmt.Errorf("decode fixture %s: %w", name, err)
		}
		msg, err := r.Render(a, set)
		if err != nil {
			return nil, err
		}
		sj, err := json.Marshal(slack.Build(msg))
		if err != nil {
			return nil, fmt.Errorf("%s: slack payload: %w", name, err)
		}
		dj, err := json.Marshal(discord.Build(msg))
		if err != nil {
			return nil, fmt.Errorf("%s: discord payload: %w", name, err)
		}
		sv, err := slackFromJSON(sj, msg.Time)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		dv, err := discordFromJSON(dj, msg.Time)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, notice{Name: name, Slack: sv, Discord: dv})
	}
	return out, nil
}

// clock is how both clients show the time of a post.
func clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("3:04 PM")
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackElement struct {
	Type string          `json:"type"`
	Text json.RawMessage `json:"text"`
	URL  string          `json:"url"`
}

type slackPayload struct {
	Blocks []struct {
		Type     string         `json:"type"`
		Text     *slackText     `json:"text"`
		Fields   []slackText    `json:"fields"`
		Elements []slackElement `json:"elements"`
	} `json:"blocks"`
}

// slackFromJSON reads a Slack payload ({"text":..,"blocks":[..]}) as a golden file spells it.
func slackFromJSON(b []byte, t time.Time) (slackView, error) {
	var p slackPayload
	if err := json.Unmarshal(b, &p); err != nil {
		return slackView{}, fmt.Errorf("read slack payload: %w", err)
	}
	v := slackView{Time: clock(t)}
	for _, bl := range p.Blocks {
		switch bl.Type {
		case "header":
			if bl.Text != nil {
				v.Blocks = append(v.Blocks, slackBlock{Kind: "header", Text: []span{{Text: bl.Text.Text}}})
			}
		case "section":
			if bl.Text != nil {
				v.Blocks = append(v.Blocks, slackBlock{Kind: "section", Text: slackTextSpans(*bl.Text)})
			}
			if len(bl.Fields) > 0 {
				fb := slackBlock{Kind: "fields"}
				for _, f := range bl.Fields {
					fb.Fields = append(fb.Fields, slackTextSpans(f))
				}
				v.Blocks = append(v.Blocks, fb)
			}
		case "actions":
			ab := slackBlock{Kind: "actions"}
			for _, e := range bl.Elements {
				var label slackText
				if e.Type != "button" || json.Unmarshal(e.Text, &label) != nil {
					continue
				}
				ab.Buttons = append(ab.Buttons, button{Label: label.Text, URL: safeURL(e.URL)})
			}
			v.Blocks = append(v.Blocks, ab)
		case "context":
			cb := slackBlock{Kind: "context"}
			for _, e := range bl.Elements {
				var s string
				if json.Unmarshal(e.Text, &s) != nil {
					continue
				}
				cb.Text = append(cb.Text, slackTextSpans(slackText{Type: e.Type, Text: s})...)
			}
			v.Blocks = append(v.Blocks, cb)
		}
	}
	return v, nil
}

func slackTextSpans(t slackText) []span {
	if t.Type == "mrkdwn" {
		return mrkdwn(t.Text)
	}
	return []span{{Text: t.Text}}
}

var slackEntities = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// mrkdwn reads the little of Slack's mrkdwn the service writes: *bold*, <url|label> links and the
// entities &lt; &gt; &amp;. Anything else stays literal text.
func mrkdwn(s string) []span {
	var out []span
	var buf strings.Builder
	bold := false
	flush := func() {
		if buf.Len() > 0 {
			out = append(out, span{Text: slackEntities.Replace(buf.String()), Bold: bold})
			buf.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '<':
			j := strings.IndexByte(s[i:], '>')
			if j < 0 {
				buf.WriteByte(c)
				continue
			}
			flush()
			target, label, ok := strings.Cut(s[i+1:i+j], "|")
			if !ok {
				label = target
			}
			out = append(out, span{Text: slackEntities.Replace(label), Bold: bold, URL: safeURL(target)})
			i += j
		case c == '*' && bold:
			flush()
			bold = false
		case c == '*' && i+1 < len(s) && s[i+1] != ' ' && s[i+1] != '\n' && closes(s[i+1:], '*'):
			flush()
			bold = true
		default:
			buf.WriteByte(c)
		}
	}
	flush()
	return out
}

// closes reports whether the rest of the line holds the closing mark.
func closes(rest string, mark byte) bool {
	line, _, _ := strings.Cut(rest, "\n")
	return strings.IndexByte(line, mark) > 0
}

type discordPayload struct {
	Embeds []struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		Timestamp   string `json:"timestamp"`
		Color       int    `json:"color"`
		Footer      *struct {
			Text string `json:"text"`
		} `json:"footer"`
		Fields []struct {
			Name   string `json:"name"`
			Value  string `json:"value"`
			Inline bool   `json:"inline"`
		} `json:"fields"`
	} `json:"embeds"`
}

// maxInline is how many inline fields Discord puts side by side.
const maxInline = 3

// discordFromJSON reads a Discord webhook payload as a golden file spells it; only the first embed
// is shown.
func discordFromJSON(b []byte, t time.Time) (discordView, error) {
	var p discordPayload
	if err := json.Unmarshal(b, &p); err != nil {
		return discordView{}, fmt.Errorf("read discord payload: %w", err)
	}
	v := discordView{Time: clock(t)}
	if len(p.Embeds) == 0 {
		return v, nil
	}
	e := p.Embeds[0]
	v.Color = fmt.Sprintf("#%06x", e.Color&0xffffff)
	v.Title = discordMarkdown(e.Title)
	v.Description = discordMarkdown(e.Description)
	var row []discordField
	inlineRow := false
	for _, f := range e.Fields {
		df := discordField{Name: discordMarkdown(f.Name), Value: discordMarkdown(f.Value)}
		if len(row) > 0 && (!f.Inline || !inlineRow || len(row) == maxInline) {
			v.Rows = append(v.Rows, row)
			row = nil
		}
		row = append(row, df)
		inlineRow = f.Inline
	}
	if len(row) > 0 {
		v.Rows = append(v.Rows, row)
	}
	var foot []string
	if e.Footer != nil && e.Footer.Text != "" {
		foot = append(foot, e.Footer.Text)
	}
	if ts, err := time.Parse(time.RFC3339, e.Timestamp); err == nil {
		foot = append(foot, ts.UTC().Format("01/02/2006 3:04 PM"))
	}
	v.Footer = strings.Join(foot, " • ")
	return v, nil
}

// discordMarkdown reads the little of Discord's markdown the service writes: **bold**, [label](url)
// masked links and backslash escapes. Anything else stays literal text.
func discordMarkdown(s string) []span {
	var out []span
	var buf strings.Builder
	bold := false
	flush := func() {
		if buf.Len() > 0 {
			out = append(out, span{Text: buf.String(), Bold: bold})
			buf.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && isPunct(s[i+1]):
			buf.WriteByte(s[i+1])
			i++
		case strings.HasPrefix(s[i:], "**") && (bold || strings.Contains(s[i+2:], "**")):
			flush()
			bold = !bold
			i++
		case c == '[':
			label, target, n, ok := maskedLink(s[i:])
			if !ok {
				buf.WriteByte(c)
				continue
			}
			flush()
			out = append(out, span{Text: label, Bold: bold, URL: safeURL(target)})
			i += n - 1
		default:
			buf.WriteByte(c)
		}
	}
	flush()
	return out
}

// maskedLink reads "[label](url)" at the start of s, unescaping the label; n is its length in bytes.
func maskedLink(s string) (label, target string, n int, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && isPunct(s[i+1]):
			b.WriteByte(s[i+1])
			i++
		case c == '[' || c == '\n':
			return "", "", 0, false
		case c == ']':
			if !strings.HasPrefix(s[i+1:], "(") {
				return "", "", 0, false
			}
			end := strings.IndexAny(s[i+2:], ") \n")
			if end < 0 || s[i+2+end] != ')' {
				return "", "", 0, false
			}
			return b.String(), s[i+2 : i+2+end], i + 2 + end + 1, true
		default:
			b.WriteByte(c)
		}
	}
	return "", "", 0, false
}

func isPunct(c byte) bool {
	return c < 0x80 && strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c) >= 0
}

// safeURL returns u when it is an absolute http(s) URL, else "" (the text then shows without a link).
func safeURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return ""
	}
	return u
}
