package slack

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/activitybridge/activitybridge/notifier"
	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a & b", "a &amp; b"},
		{"<!channel>", "&lt;!channel&gt;"},
		{"<@U123> <!subteam^S1>", "&lt;@U123&gt; &lt;!subteam^S1&gt;"},
		{"<https://evil.example|click>", "&lt;https://evil.example|click&gt;"},
		{"*bold* `x`", "*bold* `x`"},
	}
	for _, tt := range tests {
		if got := escape(tt.in); got != tt.want {
			t.Errorf("escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLink(t *testing.T) {
	tests := []struct{ url, label, want string }{
		{"https://example.com/a", "2bab04e", "<https://example.com/a|2bab04e>"},
		{"https://example.com/a b|c>d<e", "x", "<https://example.com/a%20b%7Cc%3Ed%3Ce|x>"},
		{"https://example.com/", escape("a|b <c>"), "<https://example.com/|a¦b &lt;c&gt;>"},
	}
	for _, tt := range tests {
		if got := link(tt.url, tt.label); got != tt.want {
			t.Errorf("link(%q, %q) = %q, want %q", tt.url, tt.label, got, tt.want)
		}
	}
}

func TestCutEscaped(t *testing.T) {
	tests := []struct {
		in      string
		max     int
		want    string
		wantCut bool
	}{
		{"short", 10, "short", false},
		{"abcdefghij", 5, "abcd…", true},
		{"a&b&c&d", 8, "a&amp;b…", true}, // never splits an entity
		{"日本語日本語", 4, "日本語…", true},
	}
	for _, tt := range tests {
		got, cut := cutEscaped(tt.in, tt.max)
		if got != tt.want || cut != tt.wantCut {
			t.Errorf("cutEscaped(%q, %d) = %q, %v; want %q, %v", tt.in, tt.max, got, cut, tt.want, tt.wantCut)
		}
	}
}

func TestBuildShape(t *testing.T) {
	msg := notifier.Message{
		Status: notifier.StatusFailure,
		Title:  "main failed · My Shop (abc)",
		Text:   "Cloé pushed <!channel> & more",
		Fields: []notifier.Field{
			{Name: "Commit", Value: "2bab04e Add cron", URL: "https://example.com/c/2bab04e"},
			{Name: "Live", Value: "https://main.example.site/", Keep: true},
		},
		List:   &notifier.List{Name: "Commits", Items: []string{"a1 one", "b2 two", "c3 three"}, More: 37},
		Links:  []notifier.Link{{Label: "View activity", URL: "https://console.example/a/1"}, {Label: "bad", URL: "javascript:alert(1)"}},
		Footer: "production · environment.push",
	}
	p := Build(msg)
	got := summarize(p.Blocks)
	want := []string{
		"header plain_text: ❌ main failed · My Shop (abc)",
		"section mrkdwn verbatim: Cloé pushed &lt;!channel&gt; &amp; more",
		"fields: *Commit*\n<https://example.com/c/2bab04e|2bab04e Add cron> | *Live*\nhttps://main.example.site/",
		"section mrkdwn verbatim: *Commits*\n• a1 one\n• b2 two\n• c3 three\n… and 37 more",
		"actions: View activity=https://console.example/a/1",
		"context: production · environment.push",
	}
	if strings.Join(got, "\n---\n") != strings.Join(want, "\n---\n") {
		t.Errorf("blocks:\n%s\nwant:\n%s", strings.Join(got, "\n---\n"), strings.Join(want, "\n---\n"))
	}
	if wantText := "❌ main failed · My Shop (abc)\nCloé pushed &lt;!channel&gt; &amp; more"; p.Text != wantText {
		t.Errorf("text = %q, want %q", p.Text, wantText)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"text":`) || !strings.Contains(string(b), `"blocks":[{"type":"header"`) {
		t.Errorf("payload JSON = %s", b)
	}
}

func TestBuildCutsListFirst(t *testing.T) {
	items := make([]string, 1000)
	for i := range items {
		items[i] = fmt.Sprintf("%07d commit %d", i, i)
	}
	msg := notifier.Message{Title: "t", Text: "short text", List: &notifier.List{Name: "Commits", Items: items, More: 5}}
	got := summarize(Build(msg).Blocks)
	wantList := "section mrkdwn verbatim: *Commits*\n• 0000000 commit 0\n• 0000001 commit 1\n• 0000002 commit 2\n• 0000003 commit 3\n• 0000004 commit 4\n• 0000005 commit 5\n• 0000006 commit 6\n• 0000007 commit 7\n• 0000008 commit 8\n• 0000009 commit 9\n… and 995 more"
	if len(got) != 3 || got[1] != "section mrkdwn verbatim: short text" || got[2] != wantList {
		t.Errorf("blocks = %q, want header, the text whole and %q", got, wantList)
	}
}

func TestBuildCutsText(t *testing.T) {
	msg := notifier.Message{Title: "t", Text: strings.Repeat("word ", 2000)}
	p := Build(msg)
	sec := p.Blocks[1].(*slack.SectionBlock).Text.Text
	if n := utf8.RuneCountInString(sec); n > maxSectionText || !strings.HasSuffix(sec, "…") {
		t.Errorf("text section has %d runes, ends %q; want ≤ %d ending with …", n, sec[len(sec)-10:], maxSectionText)
	}
}

// TestBuildProperties runs Build over many generated messages and checks every limit and promise.
func TestBuildProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 400 {
		msg := notifiertest.RandomMessage(r)
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkPayload(t, msg, Build(msg)) })
	}
}

func FuzzBuild(f *testing.F) {
	for _, h := range notifiertest.Hostile {
		f.Add(h, h, h, h, "https://example.com/"+h, 3)
	}
	f.Add(strings.Repeat("t", 300), strings.Repeat("&", 5000), strings.Repeat("v", 3000), "item", "https://x.example/", 600)
	f.Fuzz(func(t *testing.T, title, text, value, item, u string, n int) {
		n = max(min(n, 600), 0)
		msg := notifier.Message{Status: notifier.StatusRunning, Title: title, Text: text, Footer: text,
			Fields: []notifier.Field{{Name: value, Value: value, URL: u}, {Name: "Live", Value: value, URL: u, Keep: true}},
			List:   &notifier.List{Name: item, Items: []string{item}, More: n},
			Links:  []notifier.Link{{Label: value, URL: u}}}
		for range n % 50 {
			msg.Fields = append(msg.Fields, notifier.Field{Name: item, Value: text})
			msg.List.Items = append(msg.List.Items, item+text)
		}
		checkPayload(t, msg, Build(msg))
	})
}

func checkPayload(t *testing.T, msg notifier.Message, p Payload) {
	t.Helper()
	raw, err := json.Marshal(p.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	if problems := notifiertest.SlackBlockProblems(raw); problems != nil {
		t.Fatalf("Slack would refuse the blocks: %v", problems)
	}
	if len(p.Blocks) > maxBlocks {
		t.Errorf("%d blocks, want ≤ %d", len(p.Blocks), maxBlocks)
	}
	if n := utf8.RuneCountInString(p.Text); n > maxFallbackText || n == 0 {
		t.Errorf("fallback text has %d runes, want 1..%d", n, maxFallbackText)
	}
	if strings.ContainsAny(p.Text, "<>") {
		t.Errorf("fallback text %q holds a raw < or >", p.Text)
	}
	// Title intact: in the header when it fits there, and always in the fallback text.
	title := notifier.StripHidden(strings.Join(strings.Fields(msg.Status.Emoji()+" "+msg.Title), " "))
	head := p.Blocks[0].(*slack.HeaderBlock).Text.Text
	if utf8.RuneCountInString(title) <= maxHeaderText && head != title {
		t.Errorf("header = %q, want %q", head, title)
	}
	if utf8.RuneCountInString(msg.Title) < 3000 && !strings.Contains(p.Text, escape(msg.Title)) {
		t.Errorf("fallback text does not hold the whole title %q", msg.Title)
	}
	var urls []string
	for _, f := range msg.Fields {
		if f.URL != "" && safeURL(f.URL) {
			urls = append(urls, "<"+urlEscaper.Replace(f.URL)+"|")
		}
	}
	var fieldTexts []string
	for _, text := range mrkdwnTexts(t, p.Blocks) {
		checkNoLiveMarkup(t, text, urls)
		fieldTexts = append(fieldTexts, text)
	}
	all := strings.Join(fieldTexts, "\n")
	for _, f := range msg.Fields {
		plain := escape(f.Value)
		label := strings.ReplaceAll(plain, "|", "¦") // as a link label it cannot hold "|"
		if f.Keep && utf8.RuneCountInString(f.Value) <= 500 && strings.TrimSpace(f.Value) != "" && !strings.Contains(all, plain) && !strings.Contains(all, label) {
			t.Errorf("Keep field %q = %q is not intact", f.Name, f.Value)
		}
	}
}

// checkNoLiveMarkup fails when text holds a "<" that is not one of the links built from field URLs.
func checkNoLiveMarkup(t *testing.T, text string, allowed []string) {
	t.Helper()
	for rest := text; ; {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			break
		}
		rest = rest[i:]
		ok := false
		for _, a := range allowed {
			if strings.HasPrefix(rest, a) {
				ok = true
				break
			}
		}
		if !ok {
			t.Fatalf("live markup %q in %q", rest[:min(len(rest), 40)], text)
		}
		j := strings.IndexByte(rest, '>')
		if j < 0 {
			t.Fatalf("unclosed link in %q", text)
		}
		rest = rest[j+1:]
	}
}

// mrkdwnTexts returns every mrkdwn text in the blocks, checking that each is verbatim.
func mrkdwnTexts(t *testing.T, blocks []slack.Block) []string {
	t.Helper()
	var out []string
	add := func(o *slack.TextBlockObject) {
		if o == nil || o.Type != slack.MarkdownType {
			return
		}
		if !o.Verbatim {
			t.Errorf("mrkdwn %q is not verbatim: Slack would auto-link it", o.Text)
		}
		out = append(out, o.Text)
	}
	for _, b := range blocks {
		switch b := b.(type) {
		case *slack.SectionBlock:
			add(b.Text)
			for _, f := range b.Fields {
				add(f)
			}
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if o, ok := e.(*slack.TextBlockObject); ok {
					add(o)
				}
			}
		}
	}
	return out
}

// summarize renders blocks as short lines for comparing with a want list.
func summarize(blocks []slack.Block) []string {
	var out []string
	for _, b := range blocks {
		switch b := b.(type) {
		case *slack.HeaderBlock:
			out = append(out, "header "+b.Text.Type+": "+b.Text.Text)
		case *slack.SectionBlock:
			if b.Text != nil {
				v := ""
				if b.Text.Verbatim {
					v = " verbatim"
				}
				out = append(out, "section "+b.Text.Type+v+": "+b.Text.Text)
			}
			if len(b.Fields) > 0 {
				var fs []string
				for _, f := range b.Fields {
					fs = append(fs, f.Text)
				}
				out = append(out, "fields: "+strings.Join(fs, " | "))
			}
		case *slack.ActionBlock:
			var bs []string
			for _, e := range b.Elements.ElementSet {
				if btn, ok := e.(*slack.ButtonBlockElement); ok {
					bs = append(bs, btn.Text.Text+"="+btn.URL)
				}
			}
			out = append(out, "actions: "+strings.Join(bs, " "))
		case *slack.ContextBlock:
			var cs []string
			for _, e := range b.ContextElements.Elements {
				if o, ok := e.(*slack.TextBlockObject); ok {
					cs = append(cs, o.Text)
				}
			}
			out = append(out, "context: "+strings.Join(cs, " "))
		default:
			out = append(out, fmt.Sprintf("%T", b))
		}
	}
	return out
}

// BenchmarkBuild measures Build on generated messages, huge ones included (goal: well under 1 ms
// for a typical notice; a few ms for a 500-field, 20,000-character worst case).
func BenchmarkBuild(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	msgs := make([]notifier.Message, 64)
	for i := range msgs {
		msgs[i] = notifiertest.RandomMessage(r)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		Build(msgs[i%len(msgs)])
	}
}
