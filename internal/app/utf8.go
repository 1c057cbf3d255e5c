package app

import (
	"fmt"
	"unicode/utf8"
)

// checkUTF8 refuses a body that is not UTF-8 anywhere, in a field the service reads or not: RFC 8259
// requires JSON exchanged between systems to be UTF-8.
func checkUTF8(body []byte) error {
	if utf8.Valid(body) {
		return nil
	}
	i := 0
	for i < len(body) {
		r, size := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	return fmt.Errorf("not an activity: invalid UTF-8 at byte %d (JSON must be UTF-8, RFC 8259)", i)
}
