// Package slack delivers notifier.Messages to Slack, either through a bot token (chat.postMessage and
// chat.update, so later states edit the first message) or through an incoming webhook (post only).
// Build turns the neutral message into Block Kit within Slack's documented limits, escaping every
// untrusted string so that it can neither ping anyone nor make a link; only the Mentions of a
// message (built from the rules' mention= tokens, mention.go) become mention markup. A failure that
// edits an earlier message is followed by a thread reply, broadcast to the channel, carrying them.
package slack

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/activitybridge/activitybridge/notifier"
)

// Limits from the Block Kit reference (docs.slack.dev/reference/block-kit) and the chat.update method
// spec; see /work/shared/reference/chat-apis.md §3. The budgets below leave a margin under each.
const (
	maxBlocks        = 50    // blocks per message
	maxHeaderText    = 150   // header block, plain_text only
	maxSectionText   = 3000  // section text
	maxFieldText     = 2000  // each section field
	maxFieldsPerSect = 10    // fields per section
	maxButtonText    = 75    // button text (plain_text)
	maxButtonURL     = 3000  // button url
	maxFallbackText  = 4000  // chat.update refuses longer text (msg_too_long); chat.postMessage allows 40,000
	blocksTextBudget = 10000 // msg_blocks_too_long is reported at about 13,200 characters (slackapi/bolt-js#2509)

	sectionBudget  = maxSectionText - 100
	fieldBudget    = maxFieldText - 100
	fallbackBudget = maxFallbackText - 100
	footerBudget   = 1000
	listItemBudget = 300
	maxButtons     = 5  // an actions block allows 25; more than a few buttons is noise
	maxListShown   = 10 // items shown before "and N more"
	maxFields      = 20 // two sections of fields at most
)

const ellipsis = "…"

// Payload is what is sent to Slack for one message: the fallback text (used for notifications and
// accessibility) and the blocks. It marshals to {"text":..,"blocks":[..]}.
type Payload struct {
	Text   string        `json:"text"`
	Blocks []slack.Block `json:"blocks"`
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escape makes untrusted text inert in Slack text: Slack decodes only &amp; &lt; &gt;, and every
// mention, channel ping and link needs a literal "<"; characters that could reorder or hide text go
// (notifier.StripHidden).
func escape(s string) string { return escaper.Replace(notifier.StripHidden(s)) }

// cut shortens plain text s to at most max runes, ending with an ellipsis when it had to cut; characters
// that could reorder or hide text go (notifier.StripHidden), as in escaped text.
func cut(s string, max int) (string, bool) {
	s = notifier.StripHidden(s)
	if max <= 0 {
		return "", s != ""
	}
	if utf8.RuneCountInString(s) <= max {
		return s, false
	}
	if max == 1 {
		return ellipsis, true
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return strings.TrimRight(s[:i], " \t\n") + ellipsis, true
		}
		n++
	}
	return s, false
}

// cutEscaped escapes s and shortens it so that the escaped form has at most max runes, never
// splitting an entity such as &amp;.
func cutEscaped(s string, max int) (string, bool) {
	s = notifier.StripHidden(s) // whole, not per rune: whether a joiner stays depends on its neighbours
	e := escaper.Replace(s)
	if utf8.RuneCountInString(e) <= max {
		return e, false
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		piece := escaper.Replace(string(r))
		k := utf8.RuneCountInString(piece)
		if n+k > max-1 {
			break
		}
		b.WriteString(piece)
		n += k
	}
	return strings.TrimRight(b.String(), " \t\n") + ellipsis, true
}

// safeURL reports whether u is an absolute http(s) URL that may become a link.
func safeURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != ""
}

var urlEscaper = strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C", " ", "%20")

// link builds <url|label>: the URL cannot close the link early and the label cannot add a second one.
func link(rawURL, label string) string {
	return "<" + urlEscaper.Replace(rawURL) + "|" + strings.ReplaceAll(label, "|", "¦") + ">"
}

func mrkdwn(s string) *slack.TextBlockObject {
	// verbatim: Slack must not auto-link URLs or channel names found in untrusted text.
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

// plan is one attempt at fitting a message; Build tries ever smaller plans until one fits.
type plan struct {
	listShown   int // items of the list shown
	textMax     int // runes of the (escaped) text section
	fieldMax    int // runes of a field that is not Keep
	dropFields  bool
	listItemMax int
}

var plans = []plan{
	{listShown: maxListShown, textMax: sectionBudget, fieldMax: fieldBudget, listItemMax: listItemBudget},
	{listShown: 5, textMax: sectionBudget, fieldMax: fieldBudget, listItemMax: 150},
	{listShown: 3, textMax: 2000, fieldMax: 1000, listItemMax: 100},
	{listShown: 3, textMax: 1000, fieldMax: 500, listItemMax: 100},
	{listShown: 1, textMax: 500, fieldMax: 200, listItemMax: 80},
	{listShown: 1, textMax: 300, fieldMax: 100, listItemMax: 80, dropFields: true},
}

// Build turns msg into the Slack payload: a header with the status emoji and the Title, a section
// with the Mentions (when there are any: they also lead the fallback text, which is what notifies), a
// section with Text, sections of fields, the list, buttons for Links and a context line with Footer. Every
// untrusted string is escaped; nothing exceeds Slack's limits. When the message is too long, the
// list is cut first (with "and N more"), then Text, then fields not marked Keep; what was cut ends
// with "…". The Title is cut only in the header, which holds 150 characters; the fallback text
// then carries it whole.
func Build(msg notifier.Message) Payload {
	var blocks []slack.Block
	var size int
	for _, p := range plans {
		blocks, size = build(msg, p)
		if size <= blocksTextBudget && len(blocks) <= maxBlocks {
			break
		}
	}
	return Payload{Text: fallback(msg), Blocks: blocks}
}

// fallback is the notification text: the mentions, status, title and text, within the 4,000 of
// chat.update.
func fallback(msg notifier.Message) string {
	m := mentions(msg.Mentions) // at most maxMentions tokens: well under the budget
	head, _ := cutEscaped(msg.Status.Emoji()+" "+msg.Title, fallbackBudget-runes(m)-1)
	if m != "" {
		head = m + " " + head
	}
	rest := fallbackBudget - utf8.RuneCountInString(head) - 1
	if msg.Text == "" || rest < 10 {
		return head
	}
	text, _ := cutEscaped(msg.Text, rest)
	return head + "\n" + text
}

func build(msg notifier.Message, p plan) ([]slack.Block, int) {
	var blocks []slack.Block
	size := 0
	add := func(b slack.Block, n int) { blocks = append(blocks, b); size += n }

	title := strings.Join(strings.Fields(msg.Status.Emoji()+" "+msg.Title), " ")
	head, _ := cut(title, maxHeaderText)
	add(slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, head, true, false)), runes(head))

	if m := mentions(msg.Mentions); m != "" {
		add(slack.NewSectionBlock(mrkdwn(m), nil, nil), runes(m))
	}

	if strings.TrimSpace(msg.Text) != "" {
		text, _ := cutEscaped(msg.Text, p.textMax)
		add(slack.NewSectionBlock(mrkdwn(text), nil, nil), runes(text))
	}

	var fields []*slack.TextBlockObject
	dropped := 0
	for _, f := range msg.Fields {
		if !f.Keep && (p.dropFields || len(fields) >= maxFields) {
			dropped++
			continue
		}
		max := p.fieldMax
		if f.Keep {
			max = fieldBudget
		}
		s := field(f, max)
		fields = append(fields, mrkdwn(s))
		size += runes(s)
	}
	// Keep fields are never dropped, but blocks are finite: at most 40 sections of fields.
	if limit := (maxBlocks - 10) * maxFieldsPerSect; len(fields) > limit {
		dropped += len(fields) - limit
		fields = fields[:limit]
	}
	for i := 0; i < len(fields); i += maxFieldsPerSect {
		end := min(i+maxFieldsPerSect, len(fields))
		blocks = append(blocks, slack.NewSectionBlock(nil, fields[i:end], nil))
	}

	if l := msg.List; l != nil && (len(l.Items) > 0 || l.More > 0) {
		s := list(l, p)
		add(slack.NewSectionBlock(mrkdwn(s), nil, nil), runes(s))
	}

	var buttons []slack.BlockElement
	for i, l := range msg.Links {
		if len(buttons) == maxButtons {
			break
		}
		if !safeURL(l.URL) || len(l.URL) > maxButtonURL || strings.TrimSpace(l.Label) == "" {
			continue
		}
		label, _ := cut(strings.TrimSpace(l.Label), maxButtonText)
		b := slack.NewButtonBlockElement(fmt.Sprintf("link-%d", i), "", slack.NewTextBlockObject(slack.PlainTextType, label, true, false)).WithURL(l.URL)
		buttons = append(buttons, b)
		size += runes(label) + runes(l.URL)
	}
	if len(buttons) > 0 {
		blocks = append(blocks, slack.NewActionBlock("", buttons...))
	}

	footer := strings.TrimSpace(msg.Footer)
	if dropped > 0 {
		note := fmt.Sprintf("… %d more fields not shown", dropped)
		if footer != "" {
			footer += " · " + note
		} else {
			footer = note
		}
	}
	if footer != "" {
		s, _ := cutEscaped(footer, footerBudget)
		add(slack.NewContextBlock("", mrkdwn(s)), runes(s))
	}
	return blocks, size
}

// field renders one field as "*Name*\nvalue", the value a link when the field has a usable URL.
func field(f notifier.Field, max int) string {
	name, _ := cutEscaped(strings.TrimSpace(f.Name), 100)
	if name == "" {
		name = " "
	}
	head := "*" + name + "*\n"
	room := max - runes(head)
	value := f.Value
	if strings.TrimSpace(value) == "" {
		value = "-"
	}
	if f.URL != "" && safeURL(f.URL) {
		label, _ := cutEscaped(value, room/2)
		l := link(f.URL, label)
		if runes(l) <= room {
			return head + l
		}
	}
	v, _ := cutEscaped(value, room)
	return head + v
}

// list renders the list as bullets, a few items and then "and N more" (counting List.More).
func list(l *notifier.List, p plan) string {
	var b strings.Builder
	if name := strings.TrimSpace(l.Name); name != "" {
		n, _ := cutEscaped(name, 100)
		b.WriteString("*" + n + "*\n")
	}
	shown := 0
	for i, it := range l.Items[:min(len(l.Items), p.listShown)] {
		s := listItem(it, l.ItemURL(i), p.listItemMax)
		line := "• " + s + "\n"
		if runes(b.String())+runes(line) > sectionBudget-40 { // room for "… and N more"
			break
		}
		b.WriteString(line)
		shown++
	}
	if more := len(l.Items) - shown + l.More; more > 0 {
		fmt.Fprintf(&b, "… and %d more\n", more)
	}
	s, _ := cut(strings.TrimRight(b.String(), "\n"), sectionBudget)
	return s
}

// listItem renders one list item, escaped and cut to max; with a usable URL its first word (a commit's
// short SHA) links to it.
func listItem(item, u string, max int) string {
	item = strings.Join(strings.Fields(item), " ")
	if u != "" && safeURL(u) && len(u) <= maxButtonURL {
		word, rest, _ := strings.Cut(item, " ")
		w, _ := cutEscaped(word, 40)
		l := link(u, w)
		if room := max - runes(l) - 1; rest != "" && room > 10 {
			r, _ := cutEscaped(rest, room)
			return l + " " + r
		} else if rest == "" {
			return l
		}
	}
	s, _ := cutEscaped(item, max)
	return s
}

func runes(s string) int { return utf8.RuneCountInString(s) }
