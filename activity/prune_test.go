package activity

import (
	"encoding/binary"
	stdjson "encoding/json"
	"errors"
	"math/bits"
	"reflect"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/go-json-experiment/json"

	"github.com/activitybridge/activitybridge/internal/fixture"
)

// decodeDirect is Decode as it was before pruning: v2 unmarshals the whole body. It is the oracle
// the pruning path must match.
func decodeDirect(body []byte) (*Activity, error) {
	if err := checkObject(body); err != nil {
		return nil, err
	}
	var w wireActivity
	if err := json.Unmarshal(body, &w, decodeOptions); err != nil {
		return nil, decodeError(err)
	}
	return w.result()
}

const head = `"id":"a1","type":"environment.push","project":"p1"`

// pruneEdgeCases are bodies where pruning could go wrong; they seed the fuzz tests.
var pruneEdgeCases = []string{
	`{` + head + `}`,
	"\t{\n " + `"id"` + " \r:\n" + `"a"` + " ,\t" + `"type":"t" , "project" :"p","payload" : { "commits" : [ { "sha" : "s" } , 1 ] } } ` + "\n",
	// Escaped names: decoded to see whether they name a kept member.
	`{"\u0069d":"a","type":"t","project":"p"}`,
	`{` + head + `,"p\u0061yload":{"cron":"c","log":"x"},"l\u006fg":"x"}`,
	`{` + head + `,"payload":{"deployment":{"routes":{"https://\u0078/":{"type":"upstream","c\u0061che":{}}}}}}`,
	`{` + head + `,"\ud800":1,"payload":{"\"":2,"\\":3}}`,
	// Duplicate names, kept and dropped.
	`{` + head + `,"state":"pending","state":"complete","log":"a","log":[]}`,
	`{` + head + `,"payload":{"cron":"a"},"payload":{"backup_name":"b"},"payload":null}`,
	`{` + head + `,"id":5}`,
	// JSON kinds that do not match the node, at every kind of node.
	`{` + head + `,"payload":[]}`,
	`{` + head + `,"payload":"x"}`,
	`{` + head + `,"payload":null,"parameters":true}`,
	`{` + head + `,"payload":{"commits":{"sha":"s"}}}`,
	`{` + head + `,"payload":{"commits":[1,"a",null,[],{},{"author":[]},{"author":{"date":{}}}]}}`,
	`{` + head + `,"payload":{"deployment":{"routes":[]}}}`,
	`{` + head + `,"payload":{"deployment":{"routes":{"u":[],"v":"x","w":null,"x":{"type":{}}}}}}`,
	`{` + head + `,"payload":{"deployment":[],"environment":5,"user":"u","project":{"subscription":[]}}}`,
	`{` + head + `,"commands":{},"timings":[]}`,
	`{` + head + `,"commands":[[],{"exit_code":[1]},{"app":{"x":1}}]}`,
	`{` + head + `,"environments":{"a":1}}`,
	`{` + head + `,"environments":[1]}`,
	`{` + head + `,"timings":{"a":"x"}}`,
	`{` + head + `,"completion_percent":1.5}`,
	`{` + head + `,"completion_percent":"100"}`,
	`{` + head + `,"created_at":1671032461}`,
	// Nesting (deeper in TestPruneMatchesDirectDeep).
	`{` + head + `,"x":[[{"y":[{}]}]],"payload":{"commits":[{"author":{"date":[[{"a":{}}]]}}]}}`,
	// Lone surrogates and invalid UTF-8.
	`{` + head + `,"text":"a\ud800b","log":"\udc00"}`,
	`{` + head + `,"log":"` + "\xff\xfe\xc3\x28" + `","text":"ok"}`,
	`{` + head + `,"text":"` + "caf\xe9" + `"}`,
	`{` + head + ",\"log\xff\":1,\"payload\":{\"user\":{\"display_name\":\"\xed\xa0\x80\"}}}",
	// Numbers.
	`{` + head + `,"completion_percent":-0,"payload":{"commits_count":3.7e2,"commits":[{"author":{"date":1.5E+9}}]},"x":[0,-1,1e5,1E-2,0.5e-0]}`,
	`{` + head + `,"x":01}`,
	`{` + head + `,"x":1.}`,
	`{` + head + `,"x":-}`,
	`{` + head + `,"x":1e}`,
	`{` + head + `,"x":.5}`,
	// Syntax errors, some after a field of the wrong type, which v2 reports first.
	`{"id":5,"type":"t","project":"p"`,
	`{"id":5,"type":"t","project":"p"} x`,
	`{` + head + `,"payload":[1,}`,
	`{` + head + `,"log":"a\qb"}`,
	`{` + head + `,"log":"a\u12g4"}`,
	`{` + head + `,"log":"a` + "\n" + `b"}`,
	`{` + head + `,"x":tru}`,
	`{` + head + `,"x":nul`,
	`{` + head + `,}`,
	`{` + head + `} {}`,
	`[1,]`,
	`[{"a":1,"a":2}]`,
	` "\`,
	``,
}

// deepCases nest arrays and objects up to the limit and one past it, under a dropped and under a
// kept member. They are too big to seed fuzzing: its minimizer would take minutes on each.
var deepCases = []string{
	`{` + head + `,"x":` + strings.Repeat("[", 9_999) + strings.Repeat("]", 9_999) + `}`,
	`{` + head + `,"x":` + strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000) + `}`,
	`{` + head + `,"payload":{"commits":[{"author":{"date":` + strings.Repeat(`{"a":`, 9_995) + `1` + strings.Repeat("}", 9_995) + `}}]}}`,
	`{` + head + `,"payload":{"commits":[{"author":{"date":` + strings.Repeat(`{"a":`, 9_996) + `1` + strings.Repeat("}", 9_996) + `}}]}}`,
	`{` + head + `,"x":` + strings.Repeat("[", 1_000_000) + `}`,
	strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000),
	strings.Repeat("[", 10_001) + strings.Repeat("]", 10_001),
}

// checkSameAsDirect fails t unless Decode and decodeDirect agree on body: the same Activity or
// the same error.
func checkSameAsDirect(t *testing.T, body []byte) {
	t.Helper()
	got, gotErr := Decode(body)
	want, wantErr := decodeDirect(body)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("Decode error %v, direct error %v", gotErr, wantErr)
	}
	if wantErr != nil {
		var g, w *DecodeError
		if !errors.As(gotErr, &g) || !errors.As(wantErr, &w) {
			t.Fatalf("errors %T, %T, want *DecodeError", gotErr, wantErr)
		}
		if *g != *w {
			t.Fatalf("Decode error %q, direct error %q", g, w)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode = %+v\ndirect = %+v", got, want)
	}
}

func TestPruneMatchesDirectDeep(t *testing.T) {
	for _, s := range deepCases {
		checkSameAsDirect(t, []byte(s))
		checkValidLikeEncodingJSON(t, []byte(s))
	}
}

// FuzzPruneMatchesDirect checks that Decode (pruning first) and decodeDirect (v2 on the whole body)
// agree on every body: the same Activity or the same error.
func FuzzPruneMatchesDirect(f *testing.F) {
	for _, name := range fixture.Names() {
		if name != "push-big" {
			f.Add(fixture.Bytes(name))
		}
	}
	for _, s := range pruneEdgeCases {
		f.Add([]byte(s))
	}
	f.Fuzz(checkSameAsDirect)
}

// FuzzScanMatchesValid checks the scanner against encoding/json: the same verdict on every input,
// and for invalid input the same error at the same place. A valid input prunes to a valid document.
func FuzzScanMatchesValid(f *testing.F) {
	for _, name := range fixture.Names() {
		if name != "push-big" {
			f.Add(fixture.Bytes(name))
		}
	}
	for _, s := range pruneEdgeCases {
		f.Add([]byte(s))
	}
	for _, s := range []string{"1", "-", "[1 2]", "{\"a\" 1}", "-0.5e+7 ", "tru", "nulL", "[", "{\"a\"", "\"\\u00", "\"\\", "\"\x01\"", "{}}", "[]\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(checkValidLikeEncodingJSON)
}

// validate reports whether body is one JSON value, as prune judges it.
func validate(body []byte) error {
	p := pruner{in: body}
	return p.document(nil)
}

// checkValidLikeEncodingJSON fails t unless validate and encoding/json agree on body: the same
// verdict, and for invalid input the same error at the same place. A valid body must prune to a
// valid document.
func checkValidLikeEncodingJSON(t *testing.T, body []byte) {
	t.Helper()
	err := validate(body)
	if valid := stdjson.Valid(body); valid != (err == nil) {
		t.Fatalf("validate(%q) = %v, json.Valid = %v", body, err, valid)
	}
	if err == nil {
		reduced, err := prune(body, nil)
		if err != nil {
			t.Fatalf("prune(%q): %v, but validate accepts it", body, err)
		}
		if !stdjson.Valid(reduced) {
			t.Fatalf("prune(%q) = %q, not JSON", body, reduced)
		}
		return
	}
	var se *syntaxError
	var want *stdjson.SyntaxError
	if !errors.As(err, &se) || !errors.As(stdjson.Unmarshal(body, new(any)), &want) {
		t.Fatalf("errors %v, %v: want a syntaxError and a json.SyntaxError", err, want)
	}
	// encoding/json counts the offending byte in its offset.
	if se.msg != want.Error() || int64(min(se.offset+1, len(body))) != want.Offset {
		t.Fatalf("validate(%q) = %q at %d, encoding/json says %q after %d", body, se.msg, se.offset, want, want.Offset)
	}
}

// pathNode follows a path of member names through the kept tree: "[]" is an array's element, "*" a
// map's value. It returns nil where nothing is kept.
func pathNode(path string) *node {
	n := keptTree()
	for part := range strings.SplitSeq(path, ".") {
		name, isElem := strings.CutSuffix(part, "[]")
		switch {
		case name == "*" && n.kind == mapNode:
			n = n.elem
		case n.kind == objectNode:
			n = n.member([]byte(name))
		default:
			return nil
		}
		if n != nil && isElem {
			if n.kind != arrayNode {
				return nil
			}
			n = n.elem
		}
		if n == nil {
			return nil
		}
	}
	return n
}

func TestKeptTree(t *testing.T) {
	tests := []struct {
		path string
		want nodeKind // of a kept value
		kept bool
	}{
		{"id", leafNode, true},
		{"log", 0, false},
		{"_links", 0, false},
		{"timings", leafNode, true},
		{"environments", leafNode, true},
		{"completion_percent", leafNode, true},
		{"parameters", objectNode, true},
		{"parameters.synchronize_data", leafNode, true},
		{"parameters.options", 0, false},
		{"payload", objectNode, true},
		{"payload.deployment", objectNode, true},
		{"payload.deployment.variables", 0, false},
		{"payload.deployment.http_access", 0, false},
		{"payload.deployment.routes", mapNode, true},
		{"payload.deployment.routes.*", objectNode, true},
		{"payload.deployment.routes.*.upstream", leafNode, true},
		{"payload.deployment.routes.*.cache", 0, false},
		{"payload.deployment.project_info.name", leafNode, true},
		{"payload.deployment.project_info.ssh_key", 0, false},
		{"payload.project.subscription.subscription_management_uri", leafNode, true},
		{"payload.commits", arrayNode, true},
		{"payload.commits[]", objectNode, true},
		{"payload.commits[].author.date", leafNode, true},
		{"payload.commits[].parents", 0, false},
		{"payload.variable.name", leafNode, true},
		{"payload.variable.value", 0, false},
		{"commands[].exit_code", leafNode, true},
		{"ID", 0, false}, // names match exactly, as in v2
	}
	for _, tt := range tests {
		n := pathNode(tt.path)
		if (n != nil) != tt.kept {
			t.Errorf("%s kept = %v, want %v", tt.path, n != nil, tt.kept)
		} else if n != nil && n.kind != tt.want {
			t.Errorf("%s kind = %d, want %d", tt.path, n.kind, tt.want)
		}
	}
}

// A struct whose member names v2 would not take as they are written is kept whole.
func TestKeptNodeUnusualStructs(t *testing.T) {
	type inner struct {
		A str `json:"a"`
	}
	tests := []struct {
		name string
		typ  reflect.Type
		want nodeKind
	}{
		{"plain", reflect.TypeFor[struct {
			A inner `json:"a,omitempty"`
			B int   `json:"-"`
			C inner
		}](), objectNode},
		{"embedded", reflect.TypeFor[struct{ inner }](), leafNode},
		{"inline", reflect.TypeFor[struct {
			A inner `json:",inline"`
		}](), leafNode},
		{"case-insensitive", reflect.TypeFor[struct {
			A inner `json:"a,case:ignore"`
		}](), leafNode},
		{"quoted name", reflect.TypeFor[struct {
			A inner `json:"'a,b'"`
		}](), leafNode},
		{"unmarshaler", reflect.TypeFor[stamp](), leafNode},
		{"slice of structs", reflect.TypeFor[[]*inner](), arrayNode},
		{"map of structs", reflect.TypeFor[map[int]inner](), mapNode},
		{"map of numbers", reflect.TypeFor[map[string]float64](), leafNode},
	}
	for _, tt := range tests {
		if n := keptNode(tt.typ, map[reflect.Type]*node{}); n.kind != tt.want {
			t.Errorf("%s: kind %d, want %d", tt.name, n.kind, tt.want)
		}
	}
	n := keptNode(tests[0].typ, map[reflect.Type]*node{})
	if len(n.members) != 2 || n.members[0].name != "a" || n.members[1].name != "C" {
		t.Errorf("members %+v, want a and C", n.members)
	}
}

func TestPrune(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"log":"x","id":"a","payload":{"deployment":{"variables":[1],"routes":{"u":{"type":"t","cache":{}}}}}}`,
			`{"id":"a","payload":{"deployment":{"routes":{"u":{"type":"t"}}}}}`},
		{` { "_links" : {} , "id" : "a" } `, `{"id":"a"}`},
		{`{"x":1}`, `{}`},
		{`{"\u0069d":"a","l\u006fg":{"b":[1, 2]}}`, `{"\u0069d":"a"}`},
		{`{"p\u0061yload":{"log":1,"cron":"c"},"\ud800":1}`, `{"p\u0061yload":{"cron":"c"}}`},
		{`{"state":"a","log":1,"state":"b"}`, `{"state":"a","state":"b"}`},
		{`{"payload":[{"x":1}],"commands":[{"app":"a","x":[]}, 1, {"x":{}}]}`, `{"payload":[{"x":1}],"commands":[{"app":"a"},1,{}]}`},
		{`{"timings":{"a": 1, "b": {"c": 2}}}`, `{"timings":{"a":1,"b":{"c":2}}}`},
		{`{"environments":[ "a" , ["b", {"c" : 1}] ]}`, `{"environments":["a",["b",{"c":1}]]}`},
		{`[{"log":1}]`, `[{"log":1}]`},
	}
	for _, tt := range tests {
		got, err := prune([]byte(tt.body), nil)
		if err != nil || string(got) != tt.want {
			t.Errorf("prune(%s) = %s, %v; want %s", tt.body, got, err, tt.want)
		}
	}
}

// specials must flag exactly the first '"', '\\' or control byte of a word, whatever follows it.
func TestSpecials(t *testing.T) {
	isSpecial := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }
	for _, fill := range []byte{'a', ' ', '!', 0x7f, 0x80, 0xff} {
		for p1 := range 8 {
			for p2 := p1 + 1; p2 < 8; p2++ {
				for b1 := range 256 {
					for b2 := range 256 {
						var w [8]byte
						for k := range w {
							w[k] = fill
						}
						w[p1], w[p2] = byte(b1), byte(b2)
						want := -1
						for k, c := range w {
							if isSpecial(c) {
								want = k
								break
							}
						}
						got := -1
						if m := specials(binary.LittleEndian.Uint64(w[:])); m != 0 {
							got = bits.TrailingZeros64(m) / 8
						}
						if got != want {
							t.Fatalf("specials(% x) flags byte %d, want %d", w, got, want)
						}
					}
				}
			}
		}
	}
}

// Nothing Decode returns points into the pooled buffer it prunes into: later decodes reuse it.
func TestDecodeKeepsNothingOfItsBuffer(t *testing.T) {
	bodies := [][]byte{
		fixture.Bytes("environment.push"),
		[]byte(`{` + head + `,"completion_percent":1.5}`),
		[]byte(`{` + head + `,"created_at":"yesterday, around noon, more or less, give or take"}`),
		[]byte(`{` + head + `,"payload":{"deployment":{"routes":{"https://a/":{"upstream":"app:http"}}}}}`),
	}
	var got []any
	for _, b := range bodies {
		a, err := Decode(b)
		got = append(got, a, err)
	}
	for range 3 {
		for _, name := range fixture.Names() {
			_, _ = Decode(fixture.Bytes(name))
		}
	}
	for i, b := range bodies {
		a, err := decodeDirect(b)
		if !reflect.DeepEqual(got[2*i], a) || !reflect.DeepEqual(got[2*i+1], err) {
			t.Errorf("body %d decoded to %+v, %v; later %+v, %v", i, got[2*i], got[2*i+1], a, err)
		}
	}
}

// Concurrent decodes share the buffer pool; run with -race.
func TestDecodeConcurrently(t *testing.T) {
	names := fixture.Names()
	want := map[string]*Activity{}
	for _, name := range names {
		want[name], _ = decodeDirect(fixture.Bytes(name))
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				for _, name := range names {
					if got, _ := Decode(fixture.Bytes(name)); !reflect.DeepEqual(got, want[name]) {
						t.Errorf("%s: Decode = %+v, want %+v", name, got, want[name])
					}
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkDecodeDirect(b *testing.B) {
	for _, name := range []string{"environment.push", "push-big"} {
		body := fixture.Bytes(name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeDirect(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPrune(b *testing.B) {
	for _, name := range []string{"environment.push", "push-big"} {
		body := fixture.Bytes(name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = prune(body, buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPruneCutsLongStrings: a kept string longer than maxKeptString is cut there, never inside a UTF-8
// sequence, an escape or a surrogate pair, and ends with "…"; dropped strings are not copied at all.
func TestPruneCutsLongStrings(t *testing.T) {
	long := func(prefix, unit string) string {
		return prefix + strings.Repeat(unit, (maxKeptString+len(unit)-1)/len(unit)+10)
	}
	tests := []struct {
		name  string
		value string // the string literal's content
		want  string // what the kept content must start with; it must be at most maxKeptString bytes
	}{
		{"ASCII", long("", "a"), "aaa"},
		{"two-byte characters, cut between them", long("x", "é"), "xéé"},
		{"four-byte characters", long("", "😀"), "😀😀"},
		{"escapes across the cut", long("", `\n`), `\n\n`},
		{"unicode escapes across the cut", long("ab", `\u00e9`), `ab\u00e9`},
		{"surrogate pairs across the cut", long("abc", `\ud83d\ude00`), `abc\ud83d\ude00`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"id":"a","type":"t","project":"p","payload":{"commits":[{"message":"` + tt.value + `"}]},"log":"` + tt.value + `"}`
			got, err := prune([]byte(body), nil)
			if err != nil {
				t.Fatal(err)
			}
			pre, post := `{"id":"a","type":"t","project":"p","payload":{"commits":[{"message":"`, `…"}]}}`
			if !strings.HasPrefix(string(got), pre) || !strings.HasSuffix(string(got), post) {
				t.Fatalf("prune() = %.80s…%s; want the message alone, cut with …", got, got[max(len(got)-20, 0):])
			}
			kept := string(got[len(pre) : len(got)-len(post)])
			if len(kept) > maxKeptString || len(kept) < maxKeptString-12 || !strings.HasPrefix(kept, tt.want) {
				t.Errorf("kept %d bytes starting %.20q; want %d-%d bytes starting %q", len(kept), kept,
					maxKeptString-12, maxKeptString, tt.want)
			}
			a, err := Decode([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			msg := a.Payload.Commits[0].Message
			if !strings.HasSuffix(msg, "…") || strings.ContainsRune(msg, '\uFFFD') || !utf8.ValidString(msg) {
				t.Errorf("decoded message ends %+q; want valid text ending with …", msg[max(len(msg)-20, 0):])
			}
		})
	}
	t.Run("names of map members", func(t *testing.T) {
		url := "https://" + strings.Repeat("a", 2*maxKeptString) + "/"
		a, err := Decode([]byte(`{` + head + `,"payload":{"deployment":{"routes":{"` + url + `":{"type":"upstream"}}}}}`))
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Payload.Deployment.Routes[0].URL; len(got) > maxKeptString+len("…") || !strings.HasSuffix(got, "…") {
			t.Errorf("route URL of %d bytes kept as %d bytes; want it cut to %d", len(url), len(got), maxKeptString)
		}
	})
}

// TestPruneCapsLongLists: arrays and objects keep their first maxKeptElements elements or members, kept
// structs and lists kept as written alike; the rest is validated and dropped.
func TestPruneCapsLongLists(t *testing.T) {
	many := func(elem string, n int) string { return strings.TrimSuffix(strings.Repeat(elem+",", n), ",") }
	for _, tt := range []struct{ name, body, want string }{
		{"commits", `{"payload":{"commits":[` + many(`{"sha":"s","x":1}`, 3000) + `]}}`,
			`{"payload":{"commits":[` + many(`{"sha":"s"}`, maxKeptElements) + `]}}`},
		{"environments", `{"environments":[` + many(`"e"`, 3000) + `]}`, `{"environments":[` + many(`"e"`, maxKeptElements) + `]}`},
		{"routes", `{"payload":{"deployment":{"routes":{` + many(`"u":{}`, 3000) + `}}}}`,
			`{"payload":{"deployment":{"routes":{` + many(`"u":{}`, maxKeptElements) + `}}}}`},
		{"timings", `{"timings":{` + many(`"t":1`, 3000) + `}}`, `{"timings":{` + many(`"t":1`, maxKeptElements) + `}}`},
		{"repeated member", `{` + many(`"id":"a"`, 3000) + `}`, `{` + many(`"id":"a"`, maxKeptElements) + `}`},
		{"invalid after the cap", `{"environments":[` + many(`"e"`, 3000) + `,x]}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := prune([]byte(tt.body), nil)
			if tt.want == "" {
				if err == nil {
					t.Errorf("prune() = nil error, want the syntax error after the cap")
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("prune() = %.120s… (%d bytes), %v; want %.120s… (%d bytes)", got, len(got), err, tt.want, len(tt.want))
			}
		})
	}
}
