package render_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/activitybridge/activitybridge/render"
)

// writeFiles writes name → content under a new temporary folder and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOverride(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		fixture   string
		set       string
		wantTitle string // "" = don't care
		wantText  string
		wantFoot  string
		wantList  bool
		wantLinks int // -1 = don't care
		wantSets  []string
	}{
		{
			name:    "no files: the embedded templates",
			files:   map[string]string{"README.md": "not a template", "notes.txt": "{{"},
			fixture: "environment.push", set: "default",
			wantTitle: "main deployed · abcdefgh1234567", wantList: false, wantLinks: 1,
		},
		{
			// The user's file replaces the whole embedded environment.push.tmpl: its title is used and
			// the embedded file's text and commit list are gone (the fallback's are used).
			name:    "a file replaces the embedded file of the same name",
			files:   map[string]string{"environment.push.tmpl": `{{define "title"}}shipped {{.Environment.Name}}{{end}}`},
			fixture: "environment.push", set: "default",
			wantTitle: "shipped main", wantText: "Cloé Weber pushed to Main in 51 s", wantList: false, wantLinks: 1,
		},
		{
			name:    "a define replaces the embedded define, in every set",
			files:   map[string]string{"_mine.tmpl": `{{define "footer"}}{{.Type}} by {{.Actor}}{{end}}`},
			fixture: "environment.push", set: "compact",
			wantFoot: "environment.push by Cloé Weber", wantTitle: "main deployed · abcdefgh1234567", wantLinks: 1,
		},
		{
			name:    "a set folder overrides that set only",
			files:   map[string]string{"compact/environment.push.tmpl": `{{define "title"}}compact {{.Environment.Name}}{{end}}`},
			fixture: "environment.push", set: "compact",
			wantTitle: "compact main", wantLinks: 1,
		},
		{
			name:    "a set folder does not touch the default set",
			files:   map[string]string{"compact/environment.push.tmpl": `{{define "title"}}compact {{.Environment.Name}}{{end}}`},
			fixture: "environment.push", set: "default",
			wantTitle: "main deployed · abcdefgh1234567", wantList: false, wantLinks: 1,
		},
		{
			name:    "a flat set--name file belongs to that set (ConfigMap keys have no folders)",
			files:   map[string]string{"compact--_footer.tmpl": `{{define "footer"}}small{{end}}`},
			fixture: "push-failure", set: "compact",
			wantFoot: "small", wantTitle: "main deploy failed · abcdefgh1234567", wantLinks: 1,
		},
		{
			// The override folder comes after every embedded file, even a longer type name's.
			name:    "a type family file serves every type of the family",
			files:   map[string]string{"environment.tmpl": `{{define "title"}}env thing {{.Action}}{{end}}`},
			fixture: "variable-update", set: "default",
			wantTitle: "env thing update", wantLinks: 1,
		},
		{
			name: "within one origin the longer type name wins",
			files: map[string]string{
				"environment.tmpl":          `{{define "title"}}env thing {{.Action}}{{end}}`,
				"environment.variable.tmpl": `{{define "title"}}var thing {{.Action}}{{end}}`,
			},
			fixture: "variable-update", set: "compact",
			wantTitle: "var thing update", wantLinks: 1,
		},
		{
			name:    "a family file applies to a type it has never heard of",
			files:   map[string]string{"environment.tmpl": `{{define "title"}}env thing {{.Action}}{{end}}`},
			fixture: "unknown-type", set: "default",
			wantTitle: "env thing future_thing", wantLinks: 1,
		},
		{
			name:    "an empty define blanks a part",
			files:   map[string]string{"_quiet.tmpl": `{{define "links"}}{{end}}{{define "list"}}  {{end}}`},
			fixture: "environment.push", set: "default",
			wantTitle: "main deployed · abcdefgh1234567", wantList: false, wantLinks: 0,
		},
		{
			name:    "a new set layers over default",
			files:   map[string]string{"loud/_fallback.tmpl": `{{define "text"}}LOOK: {{.Text}}{{end}}`},
			fixture: "environment.push", set: "loud",
			wantTitle: "main deployed · abcdefgh1234567", wantText: "LOOK: Cloé Weber pushed to Main", wantList: false, wantLinks: 1,
			wantSets: []string{"compact", "default", "loud"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := render.New(render.Options{Dir: writeFiles(t, tt.files)})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			msg, err := r.Render(decode(t, tt.fixture), tt.set)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if tt.wantTitle != "" && msg.Title != tt.wantTitle {
				t.Errorf("Title = %q, want %q", msg.Title, tt.wantTitle)
			}
			if tt.wantText != "" && msg.Text != tt.wantText {
				t.Errorf("Text = %q, want %q", msg.Text, tt.wantText)
			}
			if tt.wantFoot != "" && msg.Footer != tt.wantFoot {
				t.Errorf("Footer = %q, want %q", msg.Footer, tt.wantFoot)
			}
			if got := msg.List != nil; got != tt.wantList {
				t.Errorf("has a list = %v, want %v", got, tt.wantList)
			}
			if tt.wantLinks >= 0 && len(msg.Links) != tt.wantLinks {
				t.Errorf("links = %+v, want %d", msg.Links, tt.wantLinks)
			}
			if tt.wantSets != nil && !slices.Equal(r.Sets(), tt.wantSets) {
				t.Errorf("Sets() = %q, want %q", r.Sets(), tt.wantSets)
			}
		})
	}
}

// TestOverrideConfigMapMount: a Kubernetes ConfigMap volume holds ..<timestamp>/ with the files,
// ..data linking to it and one link per key; each file must be read once.
func TestOverrideConfigMapMount(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"..2026_11_27_12_00_00.123/environment.push.tmpl": `{{define "title"}}from a configmap{{end}}`,
		"..2026_11_27_12_00_00.123/compact--_footer.tmpl": `{{define "footer"}}cm{{end}}`,
	})
	links := map[string]string{
		"..data":                "..2026_11_27_12_00_00.123",
		"environment.push.tmpl": "..data/environment.push.tmpl",
		"compact--_footer.tmpl": "..data/compact--_footer.tmpl",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Skipf("symlinks: %v", err)
		}
	}
	r, err := render.New(render.Options{Dir: dir})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	msg, err := r.Render(decode(t, "environment.push"), "default")
	if err != nil {
		t.Fatal(err)
	}
	if msg.Title != "from a configmap" {
		t.Errorf("Title = %q, want %q", msg.Title, "from a configmap")
	}
	msg, err = r.Render(decode(t, "environment.push"), "compact")
	if err != nil {
		t.Fatal(err)
	}
	if msg.Footer != "cm" {
		t.Errorf("compact Footer = %q, want %q", msg.Footer, "cm")
	}
}

// TestOverrideErrors: a bad override folder stops New with an error that says where.
func TestOverrideErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error
	}{
		{
			name:  "syntax error names the file",
			files: map[string]string{"environment.push.tmpl": `{{define "title"}}{{.Environment.Name{{end}}`},
			want:  []string{"environment.push.tmpl", "template file"},
		},
		{
			name:  "unknown function names the file",
			files: map[string]string{"compact/_x.tmpl": `{{define "title"}}{{env "HOME"}}{{end}}`},
			want:  []string{filepath.Join("compact", "_x.tmpl"), `"env" not defined`},
		},
		{
			name:  "misspelt field names the set, the file and a fixture",
			files: map[string]string{"environment.cron.tmpl": `{{define "title"}}{{.Enviroment.Name}}{{end}}`},
			want:  []string{`template set "default"`, "type environment.cron", "sample ", "environment.cron.tmpl", "Enviroment"},
		},
		{
			name:  "misspelt field on the failure path names the failure fixture",
			files: map[string]string{"compact/_x.tmpl": `{{define "text"}}{{if eq .Status "failure"}}{{.Nope}}{{end}}ok{{end}}`},
			want:  []string{`template set "compact"`, "sample push-failure", "Nope"},
		},
		{
			name:  "text outside define",
			files: map[string]string{"_x.tmpl": "Hello {{.Actor}}"},
			want:  []string{"_x.tmpl", "text outside {{define}}"},
		},
		{
			name:  "text in fields instead of a field",
			files: map[string]string{"_x.tmpl": `{{define "fields"}}Commit: {{.Head.Short}}{{end}}`},
			want:  []string{`"fields" prints text outside`, "Commit:", "field"},
		},
		{
			name:  "a field in the title",
			files: map[string]string{"_x.tmpl": `{{define "title"}}{{field "a" "b"}}{{end}}`},
			want:  []string{`"title" prints a field`},
		},
		{
			name:  "an item in the fields",
			files: map[string]string{"_x.tmpl": `{{define "fields"}}{{item "b"}}{{end}}`},
			want:  []string{`"fields" calls item`},
		},
		{
			name:  "empty title",
			files: map[string]string{"_x.tmpl": `{{define "title"}} {{end}}`},
			want:  []string{`"title" renders empty`},
		},
		{
			name:  "a replaced fallback without a part",
			files: map[string]string{"_fallback.tmpl": `{{define "title"}}t{{end}}`},
			want:  []string{`template set "default", fallback: no {{define "text"}}`},
		},
		{
			name:  "bad file name",
			files: map[string]string{"Environment.Push.tmpl": `{{define "title"}}t{{end}}`},
			want:  []string{"Environment.Push.tmpl", "bad name"},
		},
		{
			name: "the same file twice",
			files: map[string]string{
				"compact--environment.push.tmpl": `{{define "title"}}a{{end}}`,
				"compact/environment.push.tmpl":  `{{define "title"}}b{{end}}`,
			},
			want: []string{"compact--environment.push.tmpl", "keep one"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, err := render.New(render.Options{Dir: dir})
			if err == nil {
				t.Fatalf("New succeeded, want an error containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestOverrideMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	_, err := render.New(render.Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "templates folder") {
		t.Errorf("New with a missing folder: err = %v, want a templates folder error", err)
	}
}

// TestCheck: Check passes on a loaded Renderer (activitybridge check runs it).
func TestCheck(t *testing.T) {
	if err := newDefault(t).Check(); err != nil {
		t.Errorf("Check() = %v, want nil", err)
	}
}

// The start-up check executes the commit list too: a sample push lists several commits (a lone commit is
// not listed), so a misspelt field in commit_item stops start-up instead of a deploy notice.
func TestCheckRunsTheCommitList(t *testing.T) {
	dir := writeFiles(t, map[string]string{"_mine.tmpl": `{{define "commit_item"}}{{.Subjct}}{{end}}`})
	_, err := render.New(render.Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "Subjct") {
		t.Errorf("New with a misspelt field in commit_item: err = %v, want it named", err)
	}
}
