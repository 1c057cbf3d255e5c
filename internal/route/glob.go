package route

import (
	"fmt"
	"unicode/utf8"
)

// checkGlob reports what is wrong with pattern, or nil when it is a valid glob. The syntax is
// path.Match's (*, ?, [...] with ranges and ! or ^ negation, \ escapes), except that * and ? also
// match "/", so that */* covers branches such as feature/x.
func checkGlob(pattern string) error {
	for i := 0; i < len(pattern); {
		switch pattern[i] {
		case '\\':
			if i+1 >= len(pattern) {
				return fmt.Errorf("ends with a lone \\; escape it as \\\\")
			}
			_, w := utf8.DecodeRuneInString(pattern[i+1:])
			i += 1 + w
		case '[':
			_, n, err := matchClass(pattern[i:], 0)
			if err != nil {
				return err
			}
			i += n
		default:
			i++
		}
	}
	return nil
}

// globMatch reports whether name matches pattern (see checkGlob). An invalid pattern matches nothing.
func globMatch(pattern, name string) bool {
	px, nx := 0, 0
	starPx, starNx := -1, -1
	for px < len(pattern) || nx < len(name) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				// Try to match the rest here; on failure come back and let * eat one more rune.
				w := 1
				if nx < len(name) {
					_, w = utf8.DecodeRuneInString(name[nx:])
				}
				starPx, starNx = px, nx+w
				px++
				continue
			case '?':
				if nx < len(name) {
					_, w := utf8.DecodeRuneInString(name[nx:])
					px++
					nx += w
					continue
				}
			case '[':
				if nx < len(name) {
					r, w := utf8.DecodeRuneInString(name[nx:])
					ok, n, err := matchClass(pattern[px:], r)
					if err != nil {
						return false
					}
					if ok {
						px += n
						nx += w
						continue
					}
				}
			default:
				start := px
				if c == '\\' {
					start++
					if start >= len(pattern) {
						return false
					}
				}
				_, pw := utf8.DecodeRuneInString(pattern[start:])
				lit := pattern[start : start+pw]
				if len(name)-nx >= len(lit) && name[nx:nx+len(lit)] == lit {
					px = start + pw
					nx += len(lit)
					continue
				}
			}
		}
		if starPx >= 0 && starNx <= len(name) {
			px, nx = starPx, starNx
			continue
		}
		return false
	}
	return true
}

// matchClass reads the class at the start of pattern (pattern[0] == '['), reports whether r is in it
// and how many bytes the class takes, or what is wrong with it.
func matchClass(pattern string, r rune) (matched bool, n int, err error) {
	i := 1
	negate := false
	if i < len(pattern) && (pattern[i] == '!' || pattern[i] == '^') {
		negate = true
		i++
	}
	items := 0
	for {
		if i >= len(pattern) {
			return false, 0, fmt.Errorf("has an unclosed [; close the class with ], e.g. [abc]")
		}
		if pattern[i] == ']' {
			if items == 0 {
				return false, 0, fmt.Errorf("has an empty []; list characters inside, e.g. [abc]")
			}
			i++
			break
		}
		lo, w, err := classRune(pattern[i:])
		if err != nil {
			return false, 0, err
		}
		i += w
		hi := lo
		if i+1 < len(pattern) && pattern[i] == '-' && pattern[i+1] != ']' {
			hi, w, err = classRune(pattern[i+1:])
			if err != nil {
				return false, 0, err
			}
			i += 1 + w
			if hi < lo {
				return false, 0, fmt.Errorf("has a backwards range %c-%c; write it low to high, e.g. %c-%c", lo, hi, hi, lo)
			}
		}
		items++
		if lo <= r && r <= hi {
			matched = true
		}
	}
	return matched != negate, i, nil
}

// classRune reads one (possibly escaped) rune of a class.
func classRune(s string) (rune, int, error) {
	if s[0] == '\\' {
		if len(s) < 2 {
			return 0, 0, fmt.Errorf("has an unclosed [; close the class with ], e.g. [abc]")
		}
		r, w := utf8.DecodeRuneInString(s[1:])
		return r, 1 + w, nil
	}
	r, w := utf8.DecodeRuneInString(s)
	return r, w, nil
}
