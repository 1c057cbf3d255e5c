package activity

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
)

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// fieldPath finds the path ("payload.commits.message") of the first value of raw that does not decode
// into t, and that value's error. encoding/json built on its v2 implementation (GOEXPERIMENT=jsonv2) does
// not add the path to the errors our UnmarshalJSON methods return, as the v1 implementation does; this
// walk recovers it. It runs only for a body already refused, so it favours plainness over speed. It
// mirrors Unmarshal: object members by json tag name (case-insensitively, as encoding/json matches),
// array elements and map values under their container's path.
func fieldPath(raw []byte, t reflect.Type, path string) (string, error) {
	leaf := reflect.PointerTo(t).Implements(unmarshalerType)
	switch {
	case !leaf && t.Kind() == reflect.Pointer:
		return fieldPath(raw, t.Elem(), path)
	case !leaf && t.Kind() == reflect.Struct:
		if string(raw) == "null" {
			return "", nil
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil {
			return path, typeErr(raw, t, err)
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			for k, v := range members {
				if !strings.EqualFold(k, name) {
					continue
				}
				sub := name
				if path != "" {
					sub = path + "." + name
				}
				if p, err := fieldPath(v, f.Type, sub); err != nil {
					return p, err
				}
			}
		}
		return "", nil
	case !leaf && (t.Kind() == reflect.Slice || t.Kind() == reflect.Map):
		if string(raw) == "null" {
			return "", nil
		}
		var elems []json.RawMessage
		if t.Kind() == reflect.Slice {
			if err := json.Unmarshal(raw, &elems); err != nil {
				return path, typeErr(raw, t, err)
			}
		} else {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				return path, typeErr(raw, t, err)
			}
			for _, v := range m {
				elems = append(elems, v)
			}
		}
		for _, v := range elems {
			if p, err := fieldPath(v, t.Elem(), path); err != nil {
				return p, err
			}
		}
		return "", nil
	}
	if err := json.Unmarshal(raw, reflect.New(t).Interface()); err != nil {
		return path, typeErr(raw, t, err)
	}
	return "", nil
}

// typeErr returns err when it is a *json.UnmarshalTypeError (ours carry the wanted type and what was
// found), else one that says a value of raw's kind does not fit t.
func typeErr(raw []byte, t reflect.Type, err error) error {
	if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) {
		return te
	}
	return &json.UnmarshalTypeError{Value: jsonKind(firstByte(raw)), Type: t}
}

func firstByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}
