package render

import (
	"strings"
	"testing"
	"time"
)

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"Cloé Weber 🚀", "Cloé Weber 🚀"},
		{"two\nlines\tand tab", "two\nlines\tand tab"},
		{"a" + recordSep + "field" + unitSep + "x" + recordSep, "afieldx"},
		{"nul\x00 bell\x07 esc\x1b[31m del\x7f", "nul bell esc[31m del"},
		{"c1 \u0085 \u009b end", "c1   end"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"\u00a0nbsp stays", "\u00a0nbsp stays"},
	}
	for _, tt := range tests {
		if got := clean(tt.in); got != tt.want {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseRecords(t *testing.T) {
	f := record{kind: kindField, name: "Commit", value: "abc", url: "https://x", keep: true}
	tests := []struct {
		name    string
		out     string
		allowed []string
		want    []record
		wantErr string
	}{
		{name: "nothing", out: " \n ", allowed: []string{kindField}},
		{name: "one field", out: "\n  " + f.String() + "\n", allowed: []string{kindField}, want: []record{f}},
		{
			name: "in order", out: record{kind: kindItem, value: "1"}.String() + record{kind: kindItem, value: "2"}.String(),
			allowed: []string{kindItem}, want: []record{{kind: kindItem, value: "1"}, {kind: kindItem, value: "2"}},
		},
		{name: "text", out: "Commit: abc", allowed: []string{kindField}, wantErr: `prints text outside of field: "Commit: abc"`},
		{name: "text after", out: f.String() + " x", allowed: []string{kindField}, wantErr: "prints text outside"},
		{name: "wrong kind", out: f.String(), allowed: []string{kindLink}, wantErr: "calls field"},
		{name: "unclosed", out: recordSep + "field" + unitSep, allowed: []string{kindField}, wantErr: "broken record"},
		{name: "too few parts", out: recordSep + "field" + recordSep, allowed: []string{kindField}, wantErr: "broken record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRecords("p", tt.out, tt.allowed...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d records %+v, want %+v", len(got), got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("record %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0 s"},
		{900 * time.Millisecond, "under 1 s"},
		{time.Millisecond, "under 1 s"},
		{51*time.Second + 660*time.Millisecond, "51 s"},
		{time.Minute, "1 min"},
		{61 * time.Second, "1 min 1 s"},
		{2*time.Hour + 5*time.Minute + 9*time.Second, "2 h 5 min"},
		{3 * time.Hour, "3 h"},
	}
	for _, tt := range tests {
		if got := formatDuration(tt.in); got != tt.want {
			t.Errorf("duration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPluralTruncateFirstJoinUTC(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"plural 1", plural(1, "commit", "commits"), "1 commit"},
		{"plural 0", plural(0, "commit", "commits"), "0 commits"},
		{"plural 40", plural(40, "commit", "commits"), "40 commits"},
		{"truncate short", truncate(5, "héllo"), "héllo"},
		{"truncate long", truncate(4, "héllo"), "hél…"},
		{"truncate 0", truncate(0, "x"), ""},
		{"first", first([]string{"a", "b"}), "a"},
		{"first empty", first(nil), ""},
		{"join", join(", ", []string{"a", "b"}), "a, b"},
		{"utc", utc(time.Date(2022, 12, 14, 16, 41, 57, 0, time.FixedZone("CET", 3600))), "2022-12-14 15:41 UTC"},
		{"utc zero", utc(time.Time{}), ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

// TestFieldFuncStripsSeparators: even a template literal cannot break a record open.
func TestFieldFuncStripsSeparators(t *testing.T) {
	fm := funcMap(nil)
	r := fm["field"].(func(string, string) record)("a"+recordSep, "b"+unitSep+"c")
	got, err := parseRecords("fields", r.String(), kindField)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].name != "a" || got[0].value != "bc" {
		t.Errorf("records = %+v, want one field a = bc", got)
	}
}
