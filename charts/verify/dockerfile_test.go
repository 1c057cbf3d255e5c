package verify

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// repoRoot is the service's module, the Docker build context.
const repoRoot = "../.."

// instruction is one Dockerfile line, parsed by BuildKit's parser.
type instruction struct {
	cmd   string   // lower case: from, run, copy, ...
	args  []string // the arguments, quotes removed for the JSON form
	flags []string // --from=build, --platform=..., --mount=...
	json  bool     // JSON (exec) form
	line  int
	orig  string
}

// stage is a FROM and the instructions up to the next FROM.
type stage struct {
	image string // with global ARG defaults substituted
	name  string
	from  instruction
	body  []instruction
}

// dockerfile parses the Dockerfile at the repository root into its global
// ARG defaults and its stages.
func dockerfile(t *testing.T) (map[string]string, []stage) {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("parse Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile parser warning: %s", w.Short)
	}
	globals := map[string]string{}
	var stages []stage
	for _, n := range res.AST.Children {
		in := instruction{cmd: strings.ToLower(n.Value), flags: n.Flags, json: n.Attributes["json"], line: n.StartLine, orig: n.Original}
		for a := n.Next; a != nil; a = a.Next {
			in.args = append(in.args, a.Value)
		}
		switch {
		case in.cmd == "from":
			if len(in.args) == 0 {
				t.Fatalf("line %d: FROM without image", in.line)
			}
			s := stage{image: expandArgs(in.args[0], globals), from: in}
			if len(in.args) == 3 && strings.EqualFold(in.args[1], "as") {
				s.name = in.args[2]
			}
			stages = append(stages, s)
		case len(stages) == 0 && in.cmd == "arg":
			for _, a := range in.args {
				name, def, _ := strings.Cut(a, "=")
				globals[name] = def
			}
		case len(stages) == 0:
			t.Errorf("line %d: %s before the first FROM", in.line, in.cmd)
		default:
			stages[len(stages)-1].body = append(stages[len(stages)-1].body, in)
		}
	}
	return globals, stages
}

// keyValues returns an ENV or LABEL instruction's pairs; BuildKit's parser
// gives them as (key, value, separator) triplets.
func keyValues(in instruction) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(in.args); i += 3 {
		out[in.args[i]] = strings.Trim(in.args[i+1], `"`)
	}
	return out
}

var argRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// expandArgs substitutes $NAME and ${NAME} with the ARG defaults.
func expandArgs(s string, args map[string]string) string {
	return argRef.ReplaceAllStringFunc(s, func(ref string) string {
		return args[argRef.FindStringSubmatch(ref)[1]]
	})
}

// TestDockerfile checks the image's build structurally: there is no Docker
// daemon here to build it.
func TestDockerfile(t *testing.T) {
	globals, stages := dockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a multi-stage build", len(stages))
	}
	final := stages[len(stages)-1]
	builders := stages[:len(stages)-1]

	last := func(s stage, cmd string) *instruction {
		var found *instruction
		for i := range s.body {
			if s.body[i].cmd == cmd {
				found = &s.body[i]
			}
		}
		return found
	}

	// The go build line, and the ENV of its stage.
	var build *instruction
	var buildEnv string
	for _, s := range builders {
		for i, in := range s.body {
			if in.cmd == "env" {
				for k, v := range keyValues(in) {
					buildEnv += " " + k + "=" + v
				}
			}
			if in.cmd == "run" && strings.Contains(strings.Join(in.args, " "), "go build") {
				build = &s.body[i]
			}
		}
	}

	goMod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(goMod)

	checks := []struct {
		what string
		ok   func() bool
	}{
		{"final image is distroless static nonroot or scratch", func() bool {
			return final.image == "scratch" ||
				regexp.MustCompile(`^gcr\.io/distroless/static(-debian\d+)?:nonroot(@sha256:[0-9a-f]{64})?$`).MatchString(final.image)
		}},
		{"final USER is not root", func() bool {
			u := last(final, "user")
			if u == nil || len(u.args) != 1 {
				return false
			}
			name, _, _ := strings.Cut(u.args[0], ":")
			return name != "" && name != "root" && name != "0"
		}},
		{"ENTRYPOINT is JSON form [\"/activitybridge\"]", func() bool {
			e := last(final, "entrypoint")
			return e != nil && e.json && slices.Equal(e.args, []string{"/activitybridge"})
		}},
		{"CMD is JSON form [\"serve\"]", func() bool {
			c := last(final, "cmd")
			return c != nil && c.json && slices.Equal(c.args, []string{"serve"})
		}},
		{"go build with CGO_ENABLED=0", func() bool {
			return build != nil && (strings.Contains(strings.Join(build.args, " "), "CGO_ENABLED=0") || strings.Contains(buildEnv, "CGO_ENABLED=0"))
		}},
		{"go build with -trimpath", func() bool {
			return build != nil && strings.Contains(strings.Join(build.args, " "), "-trimpath")
		}},
		{"go build stamps main.version and builds ./cmd/activitybridge", func() bool {
			if build == nil {
				return false
			}
			cmd := strings.Join(build.args, " ")
			return strings.Contains(cmd, "-X main.version=") && strings.Contains(cmd, "./cmd/activitybridge")
		}},
		{"modules are downloaded in their own layer, before the sources", func() bool {
			for _, s := range builders {
				var sawGoMod, sawDownload bool
				for _, in := range s.body {
					switch {
					case in.cmd == "copy" && slices.Contains(in.args, "go.mod") && slices.Contains(in.args, "go.sum"):
						sawGoMod = true
					case in.cmd == "run" && strings.Contains(strings.Join(in.args, " "), "go mod download"):
						sawDownload = sawGoMod
					case in.cmd == "copy" && slices.Contains(in.args, "."):
						return sawDownload
					}
				}
			}
			return false
		}},
		{"builder's Go matches go.mod", func() bool {
			return goLine != nil && strings.HasPrefix(builders[0].image, "golang:"+string(goLine[1]))
		}},
		{"final stage copies only the binary and /data from the build", func() bool {
			var dests []string
			for _, in := range final.body {
				if in.cmd == "add" {
					return false
				}
				if in.cmd == "copy" {
					if !slices.ContainsFunc(in.flags, func(f string) bool { return strings.HasPrefix(f, "--from=") }) {
						return false
					}
					dests = append(dests, in.args[len(in.args)-1])
				}
			}
			slices.Sort(dests)
			return slices.Equal(dests, []string{"/activitybridge", "/data"})
		}},
		{"ENV BRIDGE_DATA_DIR=/data", func() bool {
			for _, in := range final.body {
				if in.cmd == "env" && keyValues(in)["BRIDGE_DATA_DIR"] == "/data" {
					return true
				}
			}
			return false
		}},
		{"EXPOSE 8080", func() bool {
			e := last(final, "expose")
			return e != nil && slices.Equal(e.args, []string{"8080"})
		}},
		{"OCI labels", func() bool {
			var keys []string
			for _, in := range final.body {
				if in.cmd == "label" {
					for k := range keyValues(in) {
						keys = append(keys, k)
					}
				}
			}
			for _, want := range []string{"org.opencontainers.image.title", "org.opencontainers.image.source", "org.opencontainers.image.version"} {
				if !slices.Contains(keys, want) {
					return false
				}
			}
			return true
		}},
	}
	for _, c := range checks {
		if !c.ok() {
			t.Errorf("Dockerfile: %s: not so", c.what)
		}
	}
	if _, ok := globals["GO_VERSION"]; !ok && strings.Contains(builders[0].from.orig, "GO_VERSION") {
		t.Errorf("Dockerfile: GO_VERSION is used but not declared before the first FROM")
	}

	// No remote sources: ADD of a URL or git repository fetches at build time, unpinned.
	for _, s := range stages {
		for _, in := range s.body {
			if in.cmd != "add" {
				continue
			}
			for _, src := range in.args[:max(len(in.args)-1, 0)] {
				if strings.Contains(src, "://") || strings.HasPrefix(src, "git@") {
					t.Errorf("Dockerfile line %d: ADD of a remote source %q", in.line, src)
				}
			}
		}
	}
}

// dockerignore returns a matcher for the repository's .dockerignore.
func dockerignore(t *testing.T) *patternmatcher.PatternMatcher {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatalf("read .dockerignore: %v", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	return pm
}

// TestDockerignore: secrets, local state and test material stay out of the
// build context; what the build needs stays in.
func TestDockerignore(t *testing.T) {
	pm := dockerignore(t)
	tests := []struct {
		path     string
		excluded bool
	}{
		{".env", true},
		{".env.local", true},
		{".env.example", true},
		{".git/config", true},
		{"data/activitybridge.db", true},
		{"bridge.db", true},
		{"internal/outbox/x.db", true},
		{"internal/receiver/testdata/push.json", true},
		{"testdata/x", true},
		{"charts/verify/go.mod", true},
		{"charts/activitybridge/values.yaml", true},
		{"go.mod", false},
		{"go.sum", false},
		{"cmd/activitybridge/main.go", false},
		{"templates/embed.go", false},
		{"templates/default.tmpl", false},
		{"internal/receiver/signature.go", false},
		{"render/render.go", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := pm.MatchesOrParentMatches(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.excluded {
				t.Errorf("%s excluded from the build context: %v, want %v", tt.path, got, tt.excluded)
			}
		})
	}
}

var embedLine = regexp.MustCompile(`^//go:embed\s+(.+)$`)

// TestBuildContextHasSources walks the service's module as it is now: no Go
// source, go.mod/go.sum or //go:embed'ed file that `go build` needs may be
// excluded by .dockerignore (e.g. templates embedded from a testdata folder).
func TestBuildContextHasSources(t *testing.T) {
	pm := dockerignore(t)
	var needed []string
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			name := d.Name()
			if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // another module, e.g. charts/verify
			}
			return nil
		}
		if rel == "go.mod" || rel == "go.sum" {
			needed = append(needed, rel)
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		needed = append(needed, rel)
		embeds, err := embedPatterns(p)
		if err != nil {
			return err
		}
		for _, e := range embeds {
			needed = append(needed, path.Join(filepath.ToSlash(filepath.Dir(rel)), e))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(needed, "go.mod") {
		t.Fatalf("walked %s but found no go.mod", repoRoot)
	}
	for _, p := range needed {
		excluded, err := pm.MatchesOrParentMatches(p)
		if err != nil {
			t.Fatal(err)
		}
		if excluded {
			t.Errorf("%s is needed by go build but .dockerignore excludes it", p)
		}
	}
}

// embedPatterns returns the patterns of a file's //go:embed lines.
func embedPatterns(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := embedLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		rest := strings.TrimSpace(m[1])
		for rest != "" {
			var p string
			if rest[0] == '"' || rest[0] == '`' {
				q, err := strconv.QuotedPrefix(rest)
				if err != nil {
					return nil, fmt.Errorf("%s: %q: %w", file, m[1], err)
				}
				p, _ = strconv.Unquote(q)
				rest = rest[len(q):]
			} else {
				p, rest, _ = strings.Cut(rest, " ")
			}
			out = append(out, strings.TrimPrefix(p, "all:"))
			rest = strings.TrimSpace(rest)
		}
	}
	return out, sc.Err()
}

// TestEmbedPatterns: the //go:embed reader finds every pattern form the
// build-context check relies on.
func TestEmbedPatterns(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"none", "package x\n", nil},
		{"one", "package x\n\n//go:embed *.tmpl\nvar fs embed.FS\n", []string{"*.tmpl"}},
		{"several, quoted and all:", "package x\n//go:embed a.txt \"b c.txt\" `d.txt` all:testdata/fixtures\n", []string{"a.txt", "b c.txt", "d.txt", "testdata/fixtures"}},
		{"not a directive", "package x\n// go:embed x\n//go:embedded y\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "x.go")
			if err := os.WriteFile(file, []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := embedPatterns(file)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("embedPatterns = %q, want %q", got, tt.want)
			}
		})
	}
}
