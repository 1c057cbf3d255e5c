package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestMrkdwn(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []span
	}{
		{"plain", "a b", []span{{Text: "a b"}}},
		{"bold then text", "*Commit*\nabc", []span{{Text: "Commit", Bold: true}, {Text: "\nabc"}}},
		{"link with label", "see <https://x.example/a|the site> now", []span{{Text: "see "}, {Text: "the site", URL: "https://x.example/a"}, {Text: " now"}}},
		{"bare link", "<https://x.example>", []span{{Text: "https://x.example", URL: "https://x.example"}}},
		{"entities", "a &lt;!channel&gt; &amp; b", []span{{Text: "a <!channel> & b"}}},
		{"unsafe scheme is no link", "<javascript:alert(1)|x>", []span{{Text: "x"}}},
		{"lone star", "2 * 3", []span{{Text: "2 * 3"}}},
		{"star without close on the line", "*a\nb*", []span{{Text: "*a\nb*"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mrkdwn(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("mrkdwn(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestDiscordMarkdown(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []span
	}{
		{"plain", "a b", []span{{Text: "a b"}}},
		{"bold", "x **y** z", []span{{Text: "x "}, {Text: "y", Bold: true}, {Text: " z"}}},
		{"masked link", "[View activity](https://c.example/l) · [Open](https://s.example/)", []span{
			{Text: "View activity", URL: "https://c.example/l"}, {Text: " · "}, {Text: "Open", URL: "https://s.example/"}}},
		{"escapes", `\<@U1\> \*x\* \[a\](b)`, []span{{Text: "<@U1> *x* [a](b)"}}},
		{"escaped label", `[a\_b](https://x.example)`, []span{{Text: "a_b", URL: "https://x.example"}}},
		{"unclosed bracket", "[a b", []span{{Text: "[a b"}}},
		{"unsafe scheme is no link", "[x](javascript:alert)", []span{{Text: "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := discordMarkdown(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("discordMarkdown(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestPage(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		want    []string // each appears twice: in the Slack column and in the Discord one
		absent  []string
	}{
		{name: "success", fixture: "environment.push", want: []string{"✅ main deployed · abcdefgh1234567", "#2eb67d"}},
		{name: "failure", fixture: "push-failure", want: []string{"❌ main deploy failed · abcdefgh1234567", "app: deploy exited with code 2"}},
		{name: "running", fixture: "push-in-progress", want: []string{"⏳ main deploying… · abcdefgh1234567"}},
		{
			name:    "hostile text is escaped",
			fixture: "push-hostile",
			want:    []string{"feat/@everyone-&lt;!channel&gt;-*x* deployed", "Mallory &lt;@U123&gt;"},
			absent:  []string{"<!channel>", "<@U123>", `href="https://evil.example`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notices, err := build([]string{tt.fixture}, "")
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			if err := writePage(&b, notices); err != nil {
				t.Fatal(err)
			}
			// The Discord title breaks @everyone with a zero-width space; compare without it.
			got := strings.ReplaceAll(b.String(), "\u200b", "")
			for _, w := range tt.want {
				if n := strings.Count(got, w); n < 2 && !strings.HasPrefix(w, "#") {
					t.Errorf("page shows %q %d times, want it in both columns", w, n)
				} else if n == 0 {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(got, a) {
					t.Errorf("page contains %q unescaped", a)
				}
			}
		})
	}
}

func TestRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "docs")
	if err := run(dir, ""); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "notices.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"main deployed", "main deploy failed", "main deploying…"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("notices.html lacks %q", want)
		}
	}
}
