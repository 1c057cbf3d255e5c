package render_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in render/testdata")

// golden compares got with the file testdata/<name> (name uses / as separator), or rewrites the
// file when the test runs with -update. Other tests of this package (the Slack and Discord payload
// goldens) use it too.
func golden(t testing.TB, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", filepath.FromSlash(name))
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("golden file: %v (go test ./render -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what renders now (go test ./render -update rewrites it after review):\n%s", p, lineDiff(string(want), string(got)))
	}
}

// goldenJSON marshals v as indented JSON without HTML escaping (so that <, > and & stay readable in
// the diff) and compares it with the golden file name.
func goldenJSON(t testing.TB, name string, v any) {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	golden(t, name, b.Bytes())
}

// lineDiff shows the first lines where want and got differ, with a little context.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d\n- want: %s\n+ got:  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
