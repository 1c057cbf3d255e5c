package main

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
)

//go:embed page.html
var pageHTML string

var page = template.Must(template.New("page.html").Option("missingkey=error").Parse(pageHTML))

// writePage writes the HTML page showing the notices, Slack on the left and Discord on the right.
// html/template escapes every text and checks every link.
func writePage(w io.Writer, notices []notice) error {
	if err := page.Execute(w, notices); err != nil {
		return fmt.Errorf("write page: %w", err)
	}
	return nil
}
