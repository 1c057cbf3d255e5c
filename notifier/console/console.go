// Package console prints notifier.Messages as readable plain-text blocks, for the `console` route
// target and for trying templates out. It never edits: every state is a new block.
package console

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/activitybridge/activitybridge/notifier"
)

// New returns a Notifier that writes one block per message to w. It is safe for concurrent use:
// blocks never interleave. Send returns the zero Ref, since a printed message cannot be edited.
func New(w io.Writer) notifier.Notifier {
	return &printer{w: w}
}

type printer struct {
	mu sync.Mutex
	w  io.Writer
}

// Send implements notifier.Notifier.
func (p *printer) Send(ctx context.Context, msg notifier.Message, _ notifier.Ref) (notifier.Ref, error) {
	if err := ctx.Err(); err != nil {
		return notifier.Ref{}, err
	}
	s := Format(msg)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := io.WriteString(p.w, s); err != nil {
		return notifier.Ref{}, fmt.Errorf("console: %w", err)
	}
	return notifier.Ref{}, nil
}

// Format returns the block New prints for msg: the status and title, the text, the fields
// ("Name: value", with the URL in brackets), the list with "and N more", the links, the footer and
// the time, then a blank line. Control characters other than newlines and tabs are dropped, so
// untrusted text cannot move the cursor or recolour a terminal.
func Format(msg notifier.Message) string {
	var b strings.Builder
	status := strings.ToUpper(string(msg.Status))
	if status == "" {
		status = "NOTICE"
	}
	fmt.Fprintf(&b, "[%s] %s\n", status, clean(oneLine(msg.Title)))
	if t := strings.TrimSpace(msg.Text); t != "" {
		b.WriteString(indent(clean(t), "  ") + "\n")
	}
	width := 0
	for _, f := range msg.Fields {
		width = max(width, len([]rune(clean(oneLine(f.Name)))))
	}
	for _, f := range msg.Fields {
		name := clean(oneLine(f.Name))
		value := clean(strings.TrimSpace(f.Value))
		// A value that already shows its URL (the live URL) is not followed by it again.
		if u := clean(oneLine(f.URL)); u != "" && !strings.Contains(value, u) {
			value += " <" + u + ">"
		}
		pad := strings.Repeat(" ", width-len([]rune(name)))
		fmt.Fprintf(&b, "  %s:%s %s\n", name, pad, indent(value, strings.Repeat(" ", width+4))[width+4:])
	}
	if l := msg.List; l != nil && (len(l.Items) > 0 || l.More > 0) {
		name := clean(oneLine(l.Name))
		if name == "" {
			name = "Items"
		}
		fmt.Fprintf(&b, "  %s:\n", name)
		for _, it := range l.Items {
			fmt.Fprintf(&b, "    - %s\n", clean(oneLine(it)))
		}
		if l.More > 0 {
			fmt.Fprintf(&b, "    … and %d more\n", l.More)
		}
	}
	for _, l := range msg.Links {
		fmt.Fprintf(&b, "  → %s: %s\n", clean(oneLine(l.Label)), clean(oneLine(l.URL)))
	}
	footer := clean(oneLine(msg.Footer))
	if footer == "" && !msg.Time.IsZero() {
		ts := msg.Time.UTC().Format(time.RFC3339)
		footer = ts
	}
	if footer != "" {
		b.WriteString("  " + footer + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = prefix + strings.TrimRight(l, " \t")
	}
	return strings.Join(lines, "\n")
}

// clean drops control characters (ANSI escapes start with ESC) but keeps newlines and tabs.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}
