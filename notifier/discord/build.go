// Package discord delivers notifier.Messages to Discord, through webhooks (one shared discordgo
// session, execute with wait=true, edit with PATCH) or through a bot token in a channel. Build turns
// the neutral message into one embed within Discord's documented limits; every untrusted string is
// markdown-escaped, and every request carries allowed_mentions with no parse types that lists only
// the users and roles of the message's Mentions (built from the rules' mention= tokens), so nothing
// else can ping anyone. A failure that edits an earlier message is followed by a reply carrying the
// mentions (reply.go).
package discord

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/activitybridge/activitybridge/notifier"
)

// Embed limits from Discord's docs (developers/resources/message.mdx, "Embed Limits"); see
// chat-apis.md §6. Lengths are counted in UTF-16 code units, which is never less than Discord's
// count, and each budget leaves a margin under the limit.
const (
	maxTitle       = 256
	maxDescription = 4096
	maxFields      = 25
	maxFieldName   = 256
	maxFieldValue  = 1024
	maxFooter      = 2048
	maxEmbedTotal  = 6000

	titleBudget       = maxTitle - 6
	descriptionBudget = maxDescription - 196
	fieldNameBudget   = 100
	fieldValueBudget  = maxFieldValue - 24
	footerBudget      = 500
	totalBudget       = maxEmbedTotal - 500
	maxLinks          = 5
	maxLinkLabel      = 75
	maxLinkURL        = 1000
	maxListShown      = 10
)

// Colours by status.
const (
	ColorSuccess   = 0x2EB67D
	ColorFailure   = 0xE01E5A
	ColorCancelled = 0x9AA0A6
	ColorRunning   = 0xECB22E
	ColorPending   = 0x607D8B
	ColorWarning   = 0xF5A623 // amber
	ColorCritical  = 0xB0001E
)

const ellipsis = "…"

// Payload is what is sent to Discord for one message, as Discord's JSON spells it. AllowedMentions
// is always set, with an empty parse list.
type Payload struct {
	Content         string                            `json:"content"`
	Embeds          []*discordgo.MessageEmbed         `json:"embeds"`
	AllowedMentions *discordgo.MessageAllowedMentions `json:"allowed_mentions"`
}

// noMentions returns allowed_mentions that let nothing ping: it marshals to {"parse":[]} (a nil
// slice would marshal to null).
func noMentions() *discordgo.MessageAllowedMentions {
	return &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
}

// Color returns the embed colour for a status.
func Color(s notifier.Status) int {
	switch s {
	case notifier.StatusSuccess:
		return ColorSuccess
	case notifier.StatusFailure:
		return ColorFailure
	case notifier.StatusCancelled:
		return ColorCancelled
	case notifier.StatusRunning:
		return ColorRunning
	case notifier.StatusWarning:
		return ColorWarning
	case notifier.StatusCritical:
		return ColorCritical
	}
	return ColorPending
}

// units counts s the way Discord's limits do at most: in UTF-16 code units.
func units(s string) int {
	n := 0
	for _, r := range s {
		if k := utf16.RuneLen(r); k > 0 {
			n += k
		} else {
			n++
		}
	}
	return n
}

var mentionBreaker = strings.NewReplacer("@everyone", "@\u200beveryone", "@here", "@\u200bhere")

// eachPiece calls yield with each escaped piece of untrusted text, stopping when it returns false.
// A piece is never split when cutting: markdown characters get a backslash, '#' and '-' at the start
// of a line too (headings, lists, subtext), '<' too (so <@id>, <#id>, <t:..> stay literal), and
// @everyone/@here get a zero-width space. Characters that could reorder or hide text go first
// (notifier.StripHidden), so the zero-width space added here is the only one.
func eachPiece(s string, yield func(p string) bool) {
	s = mentionBreaker.Replace(notifier.StripHidden(s))
	lineStart := true
	var buf [8]byte
	for i, r := range s {
		var p string
		switch {
		case strings.ContainsRune("\\*_~`|>[]<", r), lineStart && (r == '#' || r == '-'):
			buf[0] = '\\'
			n := utf8.EncodeRune(buf[1:], r)
			p = string(buf[:n+1])
		default:
			// An invalid byte (r is RuneError, one byte wide) becomes U+FFFD: JSON would do the same.
			if _, size := utf8.DecodeRuneInString(s[i:]); r == utf8.RuneError && size == 1 {
				p = "\uFFFD"
			} else {
				p = s[i : i+size]
			}
		}
		if !yield(p) {
			return
		}
		switch {
		case r == '\n':
			lineStart = true
		case r == ' ' || r == '\t':
		default:
			lineStart = false
		}
	}
}

// escape makes untrusted text render literally in Discord markdown.
func escape(s string) string {
	var b strings.Builder
	eachPiece(s, func(p string) bool { b.WriteString(p); return true })
	return b.String()
}

// cutEscaped escapes s and shortens it to at most max UTF-16 units, ending with "…" when cut. An
// escape sequence is never split.
func cutEscaped(s string, max int) (string, bool) {
	var b strings.Builder
	n, cut := 0, false
	keep := 0 // length of b before the piece that would leave no room for the ellipsis
	eachPiece(s, func(p string) bool {
		k := units(p)
		if n+k > max {
			cut = true
			return false
		}
		if n+k <= max-1 {
			keep = b.Len() + len(p)
		}
		b.WriteString(p)
		n += k
		return true
	})
	if !cut {
		return b.String(), false
	}
	return strings.TrimRight(b.String()[:keep], " \t\n") + ellipsis, true
}

// safeURL reports whether u is an absolute http(s) URL that may become a link.
func safeURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != "" && !strings.ContainsAny(u, "\n\r")
}

var urlEscaper = strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E")

// maskedLink builds [label](url): the URL cannot close the link early, the label cannot open another.
func maskedLink(label, rawURL string) string {
	label = strings.NewReplacer("[", "", "]", "", "\n", " ").Replace(label)
	return "[" + escape(label) + "](" + urlEscaper.Replace(rawURL) + ")"
}

type plan struct {
	listShown, listItemMax, textMax, fieldMax int
	dropFields                                bool
}

var plans = []plan{
	{listShown: maxListShown, listItemMax: 200, textMax: descriptionBudget, fieldMax: fieldValueBudget},
	{listShown: 5, listItemMax: 120, textMax: 2000, fieldMax: fieldValueBudget},
	{listShown: 3, listItemMax: 100, textMax: 1000, fieldMax: 500},
	{listShown: 1, listItemMax: 80, textMax: 500, fieldMax: 200},
	{listShown: 1, listItemMax: 80, textMax: 200, fieldMax: 100, dropFields: true},
	{listShown: 0, listItemMax: 80, textMax: 100, fieldMax: 100, dropFields: true},
}

// Build turns msg into one embed: the status emoji and Title as the title, Text and then the Links
// (as masked links) in the description, Fields and the List as embed fields, Footer, the status
// colour and Time. Untrusted text is escaped; nothing exceeds Discord's limits. When the embed is too
// long, the list is cut first (with "and N more"), then Text, then fields not marked Keep; what was
// cut ends with "…". Content holds the Mentions (<@id>, <@&id>), if any, and AllowedMentions lists
// exactly those users and roles and parses nothing else, so nothing in the embed can ping.
func Build(msg notifier.Message) Payload {
	var e *discordgo.MessageEmbed
	for _, p := range plans {
		var size int
		e, size = build(msg, p)
		if size <= totalBudget {
			break
		}
	}
	content, am := mentionParts(msg.Mentions)
	return Payload{Content: content, Embeds: []*discordgo.MessageEmbed{e}, AllowedMentions: am}
}

func build(msg notifier.Message, p plan) (*discordgo.MessageEmbed, int) {
	e := &discordgo.MessageEmbed{Type: discordgo.EmbedTypeRich, Color: Color(msg.Status)}
	// The footer line already says when (in UTC, like Slack's context line); Discord's own timestamp would
	// print the same moment a second time, so it only stands in for a missing footer.
	if !msg.Time.IsZero() && strings.TrimSpace(msg.Footer) == "" {
		e.Timestamp = msg.Time.UTC().Format(time.RFC3339)
	}
	title := strings.Join(strings.Fields(msg.Status.Emoji()+" "+msg.Title), " ")
	e.Title, _ = cutEscaped(title, titleBudget)
	size := units(e.Title)

	// Links go in first: they are short and must survive; Text gets the rest of the description.
	var links []string
	linkSize := 0
	for _, l := range msg.Links {
		if len(links) == maxLinks {
			break
		}
		label := strings.TrimSpace(l.Label)
		if label == "" || !safeURL(l.URL) || len(l.URL) > maxLinkURL {
			continue
		}
		label = truncateRunes(label, maxLinkLabel)
		s := maskedLink(label, l.URL)
		links = append(links, s)
		linkSize += units(s) + 3
	}
	var desc string
	if strings.TrimSpace(msg.Text) != "" {
		desc, _ = cutEscaped(strings.TrimSpace(msg.Text), min(p.textMax, descriptionBudget-linkSize-2))
	}
	if len(links) > 0 {
		if desc != "" {
			desc += "\n\n"
		}
		desc += strings.Join(links, " · ")
	}
	e.Description = desc
	size += units(desc)

	room := maxFields
	if msg.List != nil && (len(msg.List.Items) > 0 || msg.List.More > 0) {
		room-- // the list's field
	}
	keeps := 0
	for _, f := range msg.Fields {
		if f.Keep {
			keeps++
		}
	}
	others := max(room-keeps, 0) // fields not marked Keep that may be shown
	dropped := 0
	for _, f := range msg.Fields {
		if len(e.Fields) >= room || (!f.Keep && (p.dropFields || others == 0)) {
			dropped++
			continue
		}
		limit := p.fieldMax
		if f.Keep {
			limit = fieldValueBudget
		} else {
			others--
		}
		ef := field(f, limit)
		e.Fields = append(e.Fields, ef)
		size += units(ef.Name) + units(ef.Value)
	}

	if l := msg.List; l != nil && (len(l.Items) > 0 || l.More > 0) {
		ef := list(l, p)
		e.Fields = append(e.Fields, ef)
		size += units(ef.Name) + units(ef.Value)
	}

	footer := strings.TrimSpace(notifier.StripHidden(msg.Footer)) // plain text: not escaped, but no bidi either
	if dropped > 0 {
		note := fmt.Sprintf("… %d more fields not shown", dropped)
		if footer != "" {
			footer += " · " + note
		} else {
			footer = note
		}
	}
	if footer != "" {
		// The footer is plain text: Discord renders no markdown there.
		e.Footer = &discordgo.MessageEmbedFooter{Text: truncateUnits(footer, footerBudget)}
		size += units(e.Footer.Text)
	}
	return e, size
}

func field(f notifier.Field, max int) *discordgo.MessageEmbedField {
	name, _ := cutEscaped(strings.TrimSpace(f.Name), fieldNameBudget)
	if name == "" {
		name = "\u200b" // Discord refuses an empty field name
	}
	value := strings.TrimSpace(f.Value)
	if value == "" {
		value = "-"
	}
	var v string
	if f.URL != "" && safeURL(f.URL) && !strings.Contains(value, "\n") && len(f.URL) <= maxLinkURL {
		label := value
		if !f.Keep { // a field marked Keep (the live URL) is shown whole whenever it fits the field
			label = truncateRunes(value, 200)
		}
		v = maskedLink(label, f.URL)
	}
	if v == "" || units(v) > max {
		v, _ = cutEscaped(value, max)
	}
	return &discordgo.MessageEmbedField{Name: name, Value: v, Inline: units(v) <= 40 && !strings.Contains(v, "\n")}
}

func list(l *notifier.List, p plan) *discordgo.MessageEmbedField {
	name, _ := cutEscaped(strings.TrimSpace(l.Name), fieldNameBudget)
	if name == "" {
		name = "\u200b"
	}
	var b strings.Builder
	shown := 0
	for i, it := range l.Items[:min(len(l.Items), p.listShown)] {
		s := listItem(it, l.ItemURL(i), p.listItemMax)
		line := "• " + s + "\n"
		if units(b.String())+units(line) > fieldValueBudget-40 { // room for "… and N more"
			break
		}
		b.WriteString(line)
		shown++
	}
	if more := len(l.Items) - shown + l.More; more > 0 {
		fmt.Fprintf(&b, "… and %d more", more)
	}
	v := strings.TrimRight(b.String(), "\n")
	if v == "" {
		v = "-"
	}
	return &discordgo.MessageEmbedField{Name: name, Value: truncateUnits(v, fieldValueBudget)}
}

// listItem renders one list item, escaped and cut to max; with a usable URL its first word (a commit's
// short SHA) becomes a masked link to it.
func listItem(item, u string, max int) string {
	item = strings.Join(strings.Fields(item), " ")
	if u != "" && safeURL(u) && len(u) <= maxLinkURL {
		word, rest, _ := strings.Cut(item, " ")
		l := maskedLink(truncateRunes(word, 40), u)
		if rest == "" {
			return l
		}
		if room := max - units(l) - 1; room > 10 {
			r, _ := cutEscaped(rest, room)
			return l + " " + r
		}
	}
	s, _ := cutEscaped(item, max)
	return s
}

// truncateRunes cuts text (before escaping) to max runes with an ellipsis.
func truncateRunes(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + ellipsis
}

// truncateUnits cuts s to at most max UTF-16 units with an ellipsis; an escape sequence cut in two
// loses its backslash rather than escaping the ellipsis.
func truncateUnits(s string, max int) string {
	if units(s) <= max {
		return s
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		k := utf16.RuneLen(r)
		if k < 0 {
			k = 1
		}
		if n+k > max-1 {
			break
		}
		b.WriteRune(r)
		n += k
	}
	out := b.String()
	if strings.HasSuffix(out, "\\") && !strings.HasSuffix(out, "\\\\") {
		out = strings.TrimSuffix(out, "\\")
	}
	return out + ellipsis
}
