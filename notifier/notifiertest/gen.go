package notifiertest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/activitybridge/activitybridge/notifier"
)

// Hostile holds untrusted strings that must never ping anyone or become a link once rendered.
var Hostile = []string{
	"@everyone", "@here", "<!channel>", "<!here>", "<@U123>", "<!subteam^S1>", "<@&123>", "<#123>",
	"<https://evil.example|click>", "[x](https://evil.example)", "# heading", "- item", "> quote",
	"`code`", "**bold** _it_ ~~s~~ ||spoiler||", "a & b < c > d", "\\", "|", "]", "[", ")", "(",
	"<t:1700000000:R>", "&lt;!channel&gt;", "\u200b@everyone", "émoji 🚀 and 👩‍👩‍👧",
}

// RandomMessage generates a message from r for property tests: sizes from empty to huge (texts of
// 20,000 characters, 500 fields, 1,000 list items, long URLs), mixed with the Hostile strings.
func RandomMessage(r *rand.Rand) notifier.Message {
	statuses := []notifier.Status{notifier.StatusSuccess, notifier.StatusFailure, notifier.StatusCancelled, notifier.StatusRunning, notifier.StatusPending, ""}
	m := notifier.Message{
		Status: statuses[r.IntN(len(statuses))],
		Title:  randText(r, pick(r, 0, 20, 120, 400)),
		Text:   randText(r, pick(r, 0, 50, 3000, 20000)),
		Footer: randText(r, pick(r, 0, 40, 3000)),
	}
	if r.IntN(2) == 0 {
		m.Time = time.Date(2022, 12, 14, 15, 41, 0, 0, time.UTC)
	}
	for range pick(r, 0, 3, 30, 500) {
		f := notifier.Field{Name: randText(r, pick(r, 0, 8, 300)), Value: randText(r, pick(r, 0, 20, 300, 3000))}
		if r.IntN(3) == 0 {
			f.URL = randURL(r)
		}
		m.Fields = append(m.Fields, f)
	}
	for range pick(r, 0, 1, 3) {
		m.Fields = append(m.Fields, notifier.Field{Name: "Live", Value: randURL(r), URL: randURL(r), Keep: true})
	}
	if r.IntN(3) > 0 {
		l := &notifier.List{Name: "Commits", More: pick(r, 0, 0, 37)}
		for range pick(r, 0, 3, 40, 1000) {
			l.Items = append(l.Items, fmt.Sprintf("%07x %s", r.Uint32()>>4, randText(r, pick(r, 10, 80, 2000))))
		}
		m.List = l
	}
	for range pick(r, 0, 2, 40) {
		m.Links = append(m.Links, notifier.Link{Label: randText(r, pick(r, 0, 12, 200)), URL: randURL(r)})
	}
	return m
}

func pick(r *rand.Rand, choices ...int) int { return choices[r.IntN(len(choices))] }

// randText returns about n runes of words, hostile strings, newlines and non-ASCII text.
func randText(r *rand.Rand, n int) string {
	if n == 0 {
		return ""
	}
	words := []string{"deploy", "main", "Add", "cron", "fix", "Cloé", "Weber", "ünïcödé", "日本語", "🚀", "&", "<", ">", "*", "_", "\n", "\n- ", "\n# ", "  "}
	var b strings.Builder
	for b.Len() < n {
		if r.IntN(4) == 0 {
			b.WriteString(Hostile[r.IntN(len(Hostile))])
		} else {
			b.WriteString(words[r.IntN(len(words))])
		}
		b.WriteByte(' ')
	}
	return b.String()
}

func randURL(r *rand.Rand) string {
	switch r.IntN(6) {
	case 0:
		return "https://main-abcd123-abcdefgh1234567.eu-3.platformsh.site/" + strings.Repeat("p", pick(r, 10, 3000, 5000))
	case 1:
		return "https://example.com/a (b)|c>d<e"
	case 2:
		return "javascript:alert(1)"
	}
	return fmt.Sprintf("https://console.platform.sh/projects/abcdefgh1234567/activities/%x", r.Uint64())
}
