package activity

import (
	"reflect"
	"testing"
)

// fieldPath is what names the field of a decode error when encoding/json runs on its v2 implementation;
// it is tested directly so that the default build checks it too.
func TestFieldPath(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"top-level type", `{"id":"a","type":42}`, "type"},
		{"array of strings", `{"environments":["main",7]}`, "environments"},
		{"array instead of object", `{"environments":{}}`, "environments"},
		{"timestamp", `{"created_at":"yesterday"}`, "created_at"},
		{"nested invalid UTF-8", "{\"payload\":{\"commits\":[{\"sha\":\"a\"},{\"message\":\"\xff\"}]}}", "payload.commits.message"},
		{"case-insensitive member", "{\"Payload\":{\"user\":{\"display_name\":\"\xfe\"}}}", "payload.user.display_name"},
		{"map values", `{"timings":{"build":"slow"}}`, "timings"},
		{"nothing wrong", `{"id":"a","payload":null,"environments":null}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fieldPath([]byte(tt.body), reflect.TypeFor[wireActivity](), "")
			if got != tt.want || (err == nil) != (tt.want == "") {
				t.Errorf("fieldPath(%s) = %q, %v; want %q", tt.body, got, err, tt.want)
			}
		})
	}
}
