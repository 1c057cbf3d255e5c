// Package render turns an activity into a notifier.Message by executing Go text/templates: the
// default sets embedded from package templates, optionally overridden by the files of a folder
// (BRIDGE_TEMPLATES_DIR). Templates produce plain strings only; the chat services escape them and
// build their own payloads.
//
// # Sets, files and layering
//
// A template set is a folder of .tmpl files holding only {{define}} blocks: "_*.tmpl" files are
// shared by every activity type (_common.tmpl holds helpers, _fallback.tmpl the parts of types
// without a file of their own), "<type>.tmpl" serves one activity type (environment.push.tmpl) and
// "<prefix>.tmpl" a family of types (environment.variable.tmpl serves environment.variable.create,
// .update and .delete; the longest matching name wins). The templates of one message are gathered
// in this order, a later {{define}} of a name replacing an earlier one (even with an empty body):
//
//	for the set "default", then the chosen set (when it is not default):
//	    the embedded files, then the override folder's files;
//	    within each: the shared files by name, then the type files from the shortest to the longest name
//
// A file in the override folder with the same set and name as an embedded one replaces it. So a set
// only defines what differs from default: compact replaces fields and list; a type without a file
// in a set gets that set's shared defines over default's file for the type.
//
// The override folder holds either set folders (<dir>/compact/environment.push.tmpl) or flat files,
// which suit a Kubernetes ConfigMap: <dir>/environment.push.tmpl belongs to the default set and
// <dir>/compact--environment.push.tmpl to the compact set. Names starting with "." (the ConfigMap's
// ..data links) and files not ending in .tmpl are ignored. A set the embedded files do not have is
// a new set.
//
// # Parts
//
// A message is made of six named templates, each executed with *Data as its dot: "title", "text"
// and "footer" print plain text (title and footer on one line); "fields", "list" and "links" print
// records through the functions field, listName, item, more and link. Each record is framed by
// control characters that are stripped from every data string beforehand, so a commit message can
// never inject or break a field; those parts must print nothing else than records and white space.
//
// # Checks
//
// Templates run with missingkey=error on the typed Data, so a misspelt field is an execution error.
// New and Check execute every template of every set against every small sample of package
// internal/fixture/sample and fail with an error naming the file, the set and the sample.
package render

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/activitybridge/activitybridge/activity"
	samples "github.com/activitybridge/activitybridge/internal/fixture/sample"
	"github.com/activitybridge/activitybridge/notifier"
	"github.com/activitybridge/activitybridge/templates"
)

// DefaultSet is the template set used when none is named.
const DefaultSet = "default"

// DefaultConsoleURL is the console base used for "View activity" links when Options.ConsoleURL is
// empty.
const DefaultConsoleURL = "https://console.platform.sh"

// The named templates a message is made of.
var parts = []string{"title", "text", "fields", "list", "links", "footer"}

// Options configures a Renderer.
type Options struct {
	// Dir is a folder whose .tmpl files override the embedded ones (BRIDGE_TEMPLATES_DIR); "" uses
	// the embedded templates only.
	Dir string
	// ConsoleURL is the web console base for activity links (BRIDGE_PUBLIC_CONSOLE_URL); ""
	// means DefaultConsoleURL.
	ConsoleURL string
	// ProjectNames gives a display title per project ID (BRIDGE_PROJECT_NAMES); it wins over the
	// title a body carries.
	ProjectNames map[string]string
	// Repositories gives the repository of a project ID (BRIDGE_REPOSITORIES), for commit and compare
	// links.
	Repositories map[string]Repository
}

// Renderer renders activities with a loaded, checked collection of template sets. It is safe for
// concurrent use.
type Renderer struct {
	consoleURL string
	names      map[string]string
	repos      map[string]Repository
	sets       map[string]*tmplSet
}

// tmplSet holds the executable templates of one set: one per type file name, and the fallback.
type tmplSet struct {
	name     string
	types    map[string]*template.Template
	fallback *template.Template
}

// lookup returns the template for an activity type: the longest type file name that is the type
// or a dot-separated prefix of it, else the fallback.
func (s *tmplSet) lookup(typ string) *template.Template {
	for key := typ; key != ""; {
		if t, ok := s.types[key]; ok {
			return t
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return s.fallback
}

// source is one template file.
type source struct {
	set  string
	name string // file name, such as "environment.push.tmpl"
	path string // shown in errors
	user bool   // from the override folder
	defs map[string]*parse.Tree
}

func (f *source) key() string  { return strings.TrimSuffix(f.name, ".tmpl") }
func (f *source) shared() bool { return strings.HasPrefix(f.name, "_") }
func (f *source) id() string   { return f.set + "/" + f.name }

// New loads the embedded templates and those of opts.Dir, then checks them (see Check). Any error
// names the file, and for execution errors the set and the sample.
func New(opts Options) (*Renderer, error) {
	files, err := embeddedFiles()
	if err != nil {
		return nil, err
	}
	if opts.Dir != "" {
		user, err := dirFiles(opts.Dir)
		if err != nil {
			return nil, err
		}
		files = overlay(files, user)
	}
	r := &Renderer{consoleURL: opts.ConsoleURL, names: opts.ProjectNames, repos: opts.Repositories, sets: map[string]*tmplSet{}}
	if r.consoleURL == "" {
		r.consoleURL = DefaultConsoleURL
	}
	setNames := map[string]bool{DefaultSet: true}
	for _, f := range files {
		setNames[f.set] = true
	}
	// Default first, then by name: an error in default's files is reported under default, not under a
	// set built on it, and the same broken folder always gives the same message.
	names := slices.Sorted(maps.Keys(setNames))
	slices.SortStableFunc(names, func(a, b string) int { return cmpBool(a == DefaultSet, b == DefaultSet) })
	for _, name := range names {
		s, err := buildSet(name, files)
		if err != nil {
			return nil, err
		}
		r.sets[name] = s
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	return r, nil
}

// Sets returns the names of the template sets, sorted: "compact", "default" and the override
// folder's own sets.
func (r *Renderer) Sets() []string {
	return slices.Sorted(maps.Keys(r.sets))
}

// Render renders a with the template set named set ("" means DefaultSet).
func (r *Renderer) Render(a *activity.Activity, set string) (notifier.Message, error) {
	if a == nil {
		return notifier.Message{}, errors.New("render: no activity")
	}
	s, err := r.set(set)
	if err != nil {
		return notifier.Message{}, err
	}
	d := newData(a, r.consoleURL)
	d.withConfig(a, r.names, r.repos)
	msg, err := execute(s.lookup(d.Type), d)
	if err != nil {
		return notifier.Message{}, fmt.Errorf("render %s activity %s with template set %q: %w", d.Type, d.ID, s.name, err)
	}
	msg.Status = notifier.Status(a.Status())
	msg.Time = a.Time().UTC()
	return msg, nil
}

func (r *Renderer) set(name string) (*tmplSet, error) {
	if name == "" {
		name = DefaultSet
	}
	s, ok := r.sets[name]
	if !ok {
		return nil, fmt.Errorf("render: unknown template set %q; have %s", name, strings.Join(r.Sets(), ", "))
	}
	return s, nil
}

// Check executes every template of every set (each type file and the fallback) against every
// small sample activity of package internal/fixture/sample (the full fixtures stay out of the binary),
// and the health templates against HealthSample, and returns the distinct errors, each naming the set,
// the type file and the sample. A template that renders an empty title is an error too.
func (r *Renderer) Check() error {
	type sample struct {
		name string
		data *Data
	}
	var smps []sample
	var errs []error
	for _, name := range samples.Names() {
		a, err := activity.Decode(samples.Bytes(name))
		if err != nil {
			errs = append(errs, fmt.Errorf("sample %s: %w", name, err))
			continue
		}
		d := newData(a, r.consoleURL)
		d.withConfig(a, r.names, r.repos)
		smps = append(smps, sample{name, d})
	}
	seen := map[string]bool{}
	sets := r.Sets() // default first: an error in its files shows up there, not in a set built on it
	slices.SortStableFunc(sets, func(a, b string) int { return cmpBool(a == DefaultSet, b == DefaultSet) })
	for _, setName := range sets {
		s := r.sets[setName]
		keys := append([]string{""}, slices.Sorted(maps.Keys(s.types))...)
		for _, key := range keys {
			t, what := s.fallback, "fallback"
			if key != "" {
				t, what = s.types[key], "type "+key
			}
			for _, smp := range smps {
				msg, err := execute(t, smp.data)
				if err == nil && msg.Title == "" {
					err = errors.New(`"title" renders empty`)
				}
				if err == nil || seen[err.Error()] {
					continue
				}
				seen[err.Error()] = true
				errs = append(errs, fmt.Errorf("template set %q, %s, sample %s: %w", setName, what, smp.name, err))
			}
		}
	}
	errs = append(errs, r.checkHealth(sets)...)
	if len(errs) > 10 {
		errs = append(errs[:10], fmt.Errorf("and %d more errors", len(errs)-10))
	}
	return errors.Join(errs...)
}

// execute runs the parts of t with d; Status and Time are left to the caller.
func execute(t *template.Template, d *Data) (notifier.Message, error) {
	var msg notifier.Message
	out := map[string]string{}
	for _, p := range parts {
		var b strings.Builder
		if err := t.ExecuteTemplate(&b, p, d); err != nil {
			return msg, err
		}
		out[p] = b.String()
	}
	for _, p := range []string{"title", "text", "footer"} {
		if strings.Contains(out[p], recordSep) {
			return msg, fmt.Errorf("%q prints a field, item or link: those belong in \"fields\", \"list\" or \"links\"", p)
		}
	}
	msg.Title = oneLine(out["title"])
	msg.Text = strings.TrimSpace(out["text"])
	msg.Footer = oneLine(out["footer"])

	recs, err := parseRecords("fields", out["fields"], kindField)
	if err != nil {
		return msg, err
	}
	for _, r := range recs {
		f := notifier.Field{Name: oneLine(r.name), Value: strings.TrimSpace(r.value), Keep: r.keep, URL: strings.TrimSpace(r.url)}
		if f.Name == "" {
			return msg, errors.New(`"fields" calls field with an empty name`)
		}
		if f.Value != "" {
			msg.Fields = append(msg.Fields, f)
		}
	}

	recs, err = parseRecords("list", out["list"], kindListName, kindItem, kindMore)
	if err != nil {
		return msg, err
	}
	list := &notifier.List{}
	for _, r := range recs {
		switch r.kind {
		case kindListName:
			list.Name = oneLine(r.name)
		case kindItem:
			if v := strings.TrimSpace(r.value); v != "" {
				list.Items = append(list.Items, v)
				list.URLs = append(list.URLs, strings.TrimSpace(r.url))
			}
		case kindMore:
			n, _ := strconv.Atoi(r.value)
			list.More = max(n, 0)
		}
	}
	if !slices.ContainsFunc(list.URLs, func(u string) bool { return u != "" }) {
		list.URLs = nil
	}
	if len(list.Items) > 0 {
		msg.List = list
	}

	recs, err = parseRecords("links", out["links"], kindLink)
	if err != nil {
		return msg, err
	}
	for _, r := range recs {
		l := notifier.Link{Label: oneLine(r.name), URL: strings.TrimSpace(r.value)}
		// No fact twice: a link to where a field already links (Open site and the Live field) is dropped.
		if l.Label != "" && l.URL != "" && !slices.ContainsFunc(msg.Fields, func(f notifier.Field) bool { return f.URL == l.URL }) {
			msg.Links = append(msg.Links, l)
		}
	}
	return msg, nil
}

// cmpBool orders true before false.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	default:
		return 1
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// buildSet builds the templates of set name from files (see the package doc for the order).
func buildSet(name string, files []*source) (*tmplSet, error) {
	chain := []string{DefaultSet}
	if name != DefaultSet {
		chain = append(chain, name)
	}
	var inChain []*source
	keys := map[string]bool{}
	for _, f := range files {
		if slices.Contains(chain, f.set) {
			inChain = append(inChain, f)
			if !f.shared() {
				keys[f.key()] = true
			}
		}
	}
	s := &tmplSet{name: name, types: map[string]*template.Template{}}
	var err error
	if s.fallback, err = assemble(name, "", chain, inChain); err != nil {
		return nil, err
	}
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		if s.types[key], err = assemble(name, key, chain, inChain); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// assemble builds the template of set name for the type file key ("" for the fallback).
func assemble(name, key string, chain []string, files []*source) (*template.Template, error) {
	defs := map[string]*parse.Tree{}
	for _, set := range chain {
		for _, user := range []bool{false, true} {
			var group []*source
			for _, f := range files {
				if f.set != set || f.user != user {
					continue
				}
				if f.shared() || key == f.key() || strings.HasPrefix(key, f.key()+".") {
					group = append(group, f)
				}
			}
			slices.SortFunc(group, func(a, b *source) int {
				if c := cmpBool(a.shared(), b.shared()); c != 0 {
					return c
				}
				if la, lb := len(a.key()), len(b.key()); !a.shared() && la != lb {
					return la - lb
				}
				return strings.Compare(a.name, b.name)
			})
			for _, f := range group {
				maps.Copy(defs, f.defs)
			}
		}
	}
	var root *template.Template
	root = template.New(name + ":" + key).Funcs(funcMap(&root)).Option("missingkey=error")
	for n, tree := range defs {
		if _, err := root.AddParseTree(n, tree); err != nil {
			return nil, fmt.Errorf("template set %q: %w", name, err)
		}
	}
	for _, p := range parts {
		if root.Lookup(p) == nil {
			what := "type " + key
			if key == "" {
				what = "fallback"
			}
			return nil, fmt.Errorf("template set %q, %s: no {{define %q}} in any of its files", name, what, p)
		}
	}
	return root, nil
}

// parseSource parses one template file into its defines.
func parseSource(f *source, text string) error {
	var root *template.Template
	t, err := template.New(f.path).Funcs(funcMap(&root)).Option("missingkey=error").Parse(text)
	if err != nil {
		return fmt.Errorf("template file %s: %w", f.path, err)
	}
	f.defs = map[string]*parse.Tree{}
	for _, d := range t.Templates() {
		if d.Name() == f.path {
			if d.Tree != nil && !parse.IsEmptyTree(d.Tree.Root) {
				return fmt.Errorf("template file %s: text outside {{define}}: a template file holds only {{define \"name\"}}...{{end}} blocks", f.path)
			}
			continue
		}
		f.defs[d.Name()] = d.Tree
	}
	return nil
}

var (
	setNameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	fileNameRE = regexp.MustCompile(`^(_[A-Za-z0-9_.-]+|[a-z0-9][a-z0-9_.-]*)\.tmpl$`)
)

func checkName(set, name, p string) error {
	if !setNameRE.MatchString(set) || strings.Contains(set, "--") {
		return fmt.Errorf("template file %s: bad set name %q: use letters, digits, - and _", p, set)
	}
	if !fileNameRE.MatchString(name) {
		return fmt.Errorf("template file %s: bad name %q: use an activity type or type prefix in lower case (environment.push.tmpl, environment.variable.tmpl) or a shared file (_name.tmpl)", p, name)
	}
	return nil
}

// embeddedFiles reads the default sets of package templates.
func embeddedFiles() ([]*source, error) {
	var files []*source
	err := fs.WalkDir(templates.FS, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".tmpl") {
			return err
		}
		set, name, ok := strings.Cut(p, "/")
		if !ok || strings.Contains(name, "/") {
			return fmt.Errorf("embedded template %s: not in a set folder", p)
		}
		f := &source{set: set, name: name, path: path.Join("templates", p)}
		if err := checkName(set, name, f.path); err != nil {
			return err
		}
		b, err := fs.ReadFile(templates.FS, p)
		if err != nil {
			return err
		}
		if err := parseSource(f, string(b)); err != nil {
			return err
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// dirFiles reads the override folder: set folders and flat files (see the package doc).
func dirFiles(dir string) ([]*source, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read templates folder: %w", err)
	}
	byID := map[string]*source{}
	var files []*source
	add := func(set, name, p string) error {
		if err := checkName(set, name, p); err != nil {
			return err
		}
		f := &source{set: set, name: name, path: p, user: true}
		if prev, ok := byID[f.id()]; ok {
			return fmt.Errorf("template files %s and %s are both %s of set %q: keep one", prev.path, p, name, set)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read template file: %w", err)
		}
		if err := parseSource(f, string(b)); err != nil {
			return err
		}
		byID[f.id()] = f
		files = append(files, f)
		return nil
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		p := filepath.Join(dir, name)
		info, err := os.Stat(p) // follows the symlinks of a ConfigMap mount
		if err != nil {
			return nil, fmt.Errorf("read templates folder: %w", err)
		}
		if info.IsDir() {
			sub, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("read templates folder: %w", err)
			}
			for _, se := range sub {
				if sn := se.Name(); !strings.HasPrefix(sn, ".") && strings.HasSuffix(sn, ".tmpl") {
					if err := add(name, sn, filepath.Join(p, sn)); err != nil {
						return nil, err
					}
				}
			}
			continue
		}
		if !strings.HasSuffix(name, ".tmpl") {
			continue
		}
		set, file := DefaultSet, name
		if s, rest, ok := strings.Cut(name, "--"); ok {
			set, file = s, rest
		}
		if err := add(set, file, p); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// overlay returns the embedded files that no user file replaces, then the user files.
func overlay(embedded, user []*source) []*source {
	replaced := map[string]bool{}
	for _, f := range user {
		replaced[f.id()] = true
	}
	var out []*source
	for _, f := range embedded {
		if !replaced[f.id()] {
			out = append(out, f)
		}
	}
	return append(out, user...)
}
