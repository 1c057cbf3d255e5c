package activity

import (
	"bytes"
	stdjson "encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/internal/fixture/sample"
)

var writeSamples = flag.Bool("samples", false, "rewrite internal/fixture/sample/*.json from the fixtures")

// TestSamplesArePrunedFixtures keeps the small samples that ship in the binary (internal/fixture/sample,
// for the start-up template check and `activitybridge send`) equal to the fixtures they come from: each
// is its fixture reduced to what Decode keeps, so it decodes to the same Activity. With -samples it
// writes them.
func TestSamplesArePrunedFixtures(t *testing.T) {
	for _, name := range sample.Names() {
		body := fixture.Bytes(name)
		reduced, err := prune(body, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var indented bytes.Buffer
		if err := stdjson.Indent(&indented, reduced, "", " "); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		indented.WriteByte('\n')
		if *writeSamples {
			if err := os.WriteFile(filepath.Join("..", "internal", "fixture", "sample", name+".json"), indented.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got := sample.Bytes(name); !bytes.Equal(got, indented.Bytes()) {
			t.Errorf("sample %s is not the pruned fixture; run go test ./activity -run Samples -samples", name)
		}
		want, err := Decode(body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(sample.Bytes(name))
		if err != nil {
			t.Fatalf("sample %s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("sample %s decodes to\n%+v\nwant (fixture)\n%+v", name, got, want)
		}
	}
}
