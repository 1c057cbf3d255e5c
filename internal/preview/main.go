// Command preview writes docs/notices.html: a self-contained page that shows how Slack and Discord
// display three sample notices (a deploy that worked, one that failed and one still running). The
// payloads are built by the real code (render, notifier/slack, notifier/discord) from the embedded
// fixtures, so the page always shows what the service sends. scripts/pictures.sh turns the page into
// docs/notices.png with headless Chromium for the README.
//
// Usage:
//
//	go run ./internal/preview -out docs
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("out", "docs", "folder to write notices.html into")
	set := flag.String("set", "", "template set to render with (default: the default set)")
	flag.Parse()
	if err := run(*out, *set); err != nil {
		fmt.Fprintln(os.Stderr, "preview:", err)
		os.Exit(1)
	}
}

// run renders the sample notices and writes them to dir/notices.html.
func run(dir, set string) error {
	notices, err := build(samples, set)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := writePage(&buf, notices); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	path := filepath.Join(dir, "notices.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
