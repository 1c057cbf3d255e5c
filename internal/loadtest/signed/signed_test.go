package signed

import (
	"encoding/json"
	"io"
	"reflect"
	"testing"

	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/internal/receiver"
)

const testKey = "YWN0aXZpdHlicmlkZ2UtdGVzdC1rZXk"

// TestNext checks that a body from Next is the fixture with only its id changed, is as long as Next and Len
// say, and carries a signature the receiver accepts (with the base64url key form).
func TestNext(t *testing.T) {
	for _, name := range []string{"environment.push", "push-big", "minimal"} {
		t.Run(name, func(t *testing.T) {
			b, err := New(name, testKey)
			if err != nil {
				t.Fatal(err)
			}
			const id = "load0000000000000042"
			r, n, sig := b.Next(id)
			body, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := int64(len(body)), n; got != want {
				t.Errorf("body length = %d, Next says %d", got, want)
			}
			if got, want := len(body), b.Len(len(id)); got != want {
				t.Errorf("body length = %d, Len says %d", got, want)
			}
			var got, want map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if err := json.Unmarshal(fixture.Bytes(name), &want); err != nil {
				t.Fatal(err)
			}
			want["id"] = id
			if !reflect.DeepEqual(got, want) {
				t.Errorf("body differs from the fixture in more than its id")
			}
			form, err := receiver.Verify(body, sig, testKey)
			if err != nil || form != receiver.KeyFormBase64URL {
				t.Errorf("Verify = %q, %v; want %q, nil", form, err, receiver.KeyFormBase64URL)
			}
		})
	}
}

// TestWithoutID checks that only the top-level id member, its comma and the closing brace are cut.
func TestWithoutID(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"id":"x","a":1}`, `{"a":1`},
		{`{"a":1, "id" : "x" }`, `{"a":1`},
		{"{\n  \"a\": {\"id\": 2},\n  \"id\": \"x\",\n  \"b\": [1]\n}\n", "{\n  \"a\": {\"id\": 2},\n  \n  \"b\": [1]"},
	}
	for _, tt := range tests {
		got, err := withoutID([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("withoutID(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`[1]`, `{"a":1}`, `{"id":`} {
		if got, err := withoutID([]byte(bad)); err == nil {
			t.Errorf("withoutID(%q) = %q, want an error", bad, got)
		}
	}
}
