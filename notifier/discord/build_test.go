package discord

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/activitybridge/activitybridge/notifier"
	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"@everyone and @here", "@\u200beveryone and @\u200bhere"},
		{"<@&123> <#1> <t:1:R>", `\<@&123\> \<#1\> \<t:1:R\>`},
		{"[x](https://evil.example)", `\[x\](https://evil.example)`},
		{"*a* _b_ ~c~ `d` |e| > f \\", `\*a\* \_b\_ \~c\~ \` + "`d\\`" + ` \|e\| \> f \\`},
		{"# title\n- item\n  -# sub\na-b #c", "\\# title\n\\- item\n  \\-# sub\na-b #c"},
	}
	for _, tt := range tests {
		if got := escape(tt.in); got != tt.want {
			t.Errorf("escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMaskedLink(t *testing.T) {
	tests := []struct{ label, url, want string }{
		{"View activity", "https://console.example/a/1", "[View activity](https://console.example/a/1)"},
		{"a]b[c", "https://x.example/a (b)", "[abc](https://x.example/a%20%28b%29)"},
		{"*x*", "https://x.example/", `[\*x\*](https://x.example/)`},
	}
	for _, tt := range tests {
		if got := maskedLink(tt.label, tt.url); got != tt.want {
			t.Errorf("maskedLink(%q, %q) = %q, want %q", tt.label, tt.url, got, tt.want)
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
		{"a*b*c*d", 6, `a\*b…`, true}, // never splits an escape
		{"🚀🚀🚀", 4, "🚀…", true},        // counted in UTF-16 units
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
		Title:  "main failed · My Shop",
		Text:   "Cloé pushed @everyone",
		Fields: []notifier.Field{
			{Name: "Commit", Value: "2bab04e Add cron", URL: "https://example.com/c/2bab04e"},
			{Name: "Live", Value: "https://main.example.site/", Keep: true},
		},
		List:   &notifier.List{Name: "Commits", Items: []string{"a1 one", "b2 *two*"}, More: 37},
		Links:  []notifier.Link{{Label: "View activity", URL: "https://console.example/a/1"}, {Label: "bad", URL: "javascript:alert(1)"}},
		Footer: "production · environment.push",
		Time:   time.Date(2022, 12, 14, 15, 41, 0, 0, time.FixedZone("CET", 3600)),
	}
	got, err := json.Marshal(Build(msg))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"content":"","embeds":[{"type":"rich","title":"❌ main failed · My Shop","description":"Cloé pushed @\u200beveryone\n\n[View activity](https://console.example/a/1)","color":14687834,"footer":{"text":"production · environment.push"},"fields":[{"name":"Commit","value":"[2bab04e Add cron](https://example.com/c/2bab04e)"},{"name":"Live","value":"https://main.example.site/","inline":true},{"name":"Commits","value":"• a1 one\n• b2 \\*two\\*\n… and 37 more"}]}],"allowed_mentions":{"parse":[],"replied_user":false}}`
	want = strings.ReplaceAll(want, `\u200b`, "\u200b")
	if string(got) != want {
		t.Errorf("payload:\n%s\nwant:\n%s", got, want)
	}
}

func TestColors(t *testing.T) {
	tests := []struct {
		s    notifier.Status
		want int
	}{
		{notifier.StatusSuccess, 0x2EB67D}, {notifier.StatusFailure, 0xE01E5A}, {notifier.StatusCancelled, ColorCancelled},
		{notifier.StatusRunning, ColorRunning}, {notifier.StatusPending, ColorPending},
	}
	for _, tt := range tests {
		if got := Build(notifier.Message{Status: tt.s, Title: "t"}).Embeds[0].Color; got != tt.want {
			t.Errorf("%s colour = %#x, want %#x", tt.s, got, tt.want)
		}
	}
}

func TestBuildCutsListFirst(t *testing.T) {
	items := make([]string, 1000)
	for i := range items {
		items[i] = fmt.Sprintf("%07d %s", i, strings.Repeat("x", 100))
	}
	msg := notifier.Message{Title: "t", Text: strings.Repeat("y", 3000), List: &notifier.List{Name: "Commits", Items: items}}
	e := Build(msg).Embeds[0]
	if e.Description != strings.Repeat("y", 3000) {
		t.Errorf("description cut (%d runes) while the list could be cut instead", len(e.Description))
	}
	last := e.Fields[len(e.Fields)-1].Value
	if !strings.HasSuffix(last, "more") || strings.Count(last, "•") == 0 {
		t.Errorf("list field = %q, want a few items and \"and N more\"", last)
	}
}

func TestBuildProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 400 {
		msg := notifiertest.RandomMessage(r)
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkPayload(t, msg, Build(msg)) })
	}
}

func FuzzBuild(f *testing.F) {
	for _, h := range notifiertest.Hostile {
		f.Add(h, h, h, h, "https://example.com/"+h, 3)
	}
	f.Add(strings.Repeat("t", 300), strings.Repeat("*", 5000), strings.Repeat("v", 3000), "item", "https://x.example/", 600)
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

// maskedLinkRE finds masked links; only those built from Link or Field URLs may exist.
var maskedLinkRE = regexp.MustCompile(`(^|[^\\])\[[^\]]*\]\(([^)\s]*)\)`)

func checkPayload(t *testing.T, msg notifier.Message, p Payload) {
	t.Helper()
	body, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if problem := notifiertest.DiscordBodyProblem(body); problem != "" {
		t.Fatalf("Discord would refuse the message: %s", problem)
	}
	if !strings.Contains(string(body), `"allowed_mentions":{"parse":[]`) {
		t.Errorf("allowed_mentions missing or not parse []: %s", body)
	}
	if len(p.Embeds) != 1 {
		t.Fatalf("embeds = %d, want 1", len(p.Embeds))
	}
	e := p.Embeds[0]
	total := units(e.Title) + units(e.Description)
	for _, f := range e.Fields {
		total += units(f.Name) + units(f.Value)
		if units(f.Value) > maxFieldValue || units(f.Name) > maxFieldName {
			t.Errorf("field %q over its limits", f.Name)
		}
	}
	if e.Footer != nil {
		total += units(e.Footer.Text)
	}
	if total > maxEmbedTotal || units(e.Title) > maxTitle || units(e.Description) > maxDescription || len(e.Fields) > maxFields {
		t.Errorf("embed over the limits: total %d, title %d, description %d, fields %d", total, units(e.Title), units(e.Description), len(e.Fields))
	}
	// A title is cut only when it does not fit once escaped (escaping adds a backslash per markdown
	// character; FuzzBuild found a 250-unit title that escapes to more than the budget).
	if t0 := strings.Join(strings.Fields(msg.Status.Emoji()+" "+msg.Title), " "); units(escape(t0)) <= titleBudget && e.Title != escape(t0) {
		t.Errorf("title = %q, want %q", e.Title, escape(t0))
	}
	urls := map[string]bool{}
	for _, l := range msg.Links {
		urls[urlEscaper.Replace(l.URL)] = true
	}
	for _, f := range msg.Fields {
		urls[urlEscaper.Replace(f.URL)] = true
	}
	texts := []string{e.Title, e.Description}
	for _, f := range e.Fields {
		texts = append(texts, f.Name, f.Value)
		if f.Value == "" || f.Name == "" {
			t.Errorf("empty field name or value: %+v", f)
		}
	}
	all := strings.Join(texts, "\n")
	for _, text := range texts {
		for _, m := range maskedLinkRE.FindAllStringSubmatch(text, -1) {
			if !urls[m[2]] {
				t.Errorf("masked link %q not built from a Link or Field URL", m[0])
			}
		}
		bare := maskedLinkRE.ReplaceAllString(text, "$1[link]") // a link's URL is not untrusted text
		for _, bad := range []string{"@everyone", "@here"} {
			if strings.Contains(bare, bad) {
				t.Errorf("%s left unbroken in %q", bad, text)
			}
		}
		if i := unescaped(text, '<'); i >= 0 {
			t.Errorf("unescaped < at %d in %q", i, text)
		}
	}
	for _, f := range msg.Fields {
		v := strings.TrimSpace(f.Value)
		if f.Keep && v != "" && units(v) <= 500 && !strings.Contains(all, escape(v)) && !strings.Contains(all, escape(strings.NewReplacer("[", "", "]", "").Replace(v))) {
			t.Errorf("Keep field %q = %q is not intact", f.Name, f.Value)
		}
	}
	var out discordgo.MessageEmbed
	if err := json.Unmarshal(mustJSON(t, e), &out); err != nil {
		t.Fatal(err)
	}
}

// unescaped returns the index of c in s not preceded by an escaping backslash, or -1.
func unescaped(s string, c byte) int {
	esc := false
	for i := 0; i < len(s); i++ {
		switch {
		case esc:
			esc = false
		case s[i] == '\\':
			esc = true
		case s[i] == c:
			return i
		}
	}
	return -1
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkBuild measures Build on generated messages, huge ones included (goal: well under 1 ms
// for a typical notice; a few ms for a 500-field, 20,000-character worst case).
func BenchmarkBuild(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	msgs := make([]notifier.Message, 64)
	for i := range msgs {
		msgs[i] = notifiertest.RandomMessage(r)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		Build(msgs[i%len(msgs)])
	}
}
