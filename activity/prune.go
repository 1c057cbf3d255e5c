package activity

import (
	"encoding"
	"encoding/binary"
	"math/bits"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Pruning: before json.Unmarshal sees a body, one pass over it validates the whole body and copies
// out only what the wire structs keep. Most of a big body is its log, one string that v2 skips a
// byte at a time (~0.6 ms for push-big's 1 MiB log); plain below skips strings 16 bytes a step
// (~0.18 ms), and v2 then decodes a document 3% of the body's size instead of all of it.

// A node says what the wire structs keep of a JSON value.
type node struct {
	kind nodeKind
	// members are the kept members of an objectNode. Structs have few fields: a scan of them
	// is faster than hashing every member name of the body.
	members []member
	// elem prunes every element of an arrayNode and every member value of a mapNode.
	elem *node
}

type member struct {
	name string
	node *node
}

type nodeKind uint8

const (
	leafNode   nodeKind = iota // kept as written
	objectNode                 // a struct: only the members named in members are kept
	arrayNode                  // a slice or array of structs: every element is kept, pruned by elem
	mapNode                    // a map of structs: every member is kept, its value pruned by elem
)

// leaf is the node of every value kept as written.
var leaf = &node{kind: leafNode}

// keptTree is the node of wireActivity, derived from the wire structs' json tags so that a field
// added to them is kept without more code.
var keptTree = sync.OnceValue(func() *node {
	return keptNode(reflect.TypeFor[wireActivity](), map[reflect.Type]*node{})
})

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	unmarshalerFromType = reflect.TypeFor[json.UnmarshalerFrom]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// keptNode returns the node of Go type t. A struct with any unusual json tag becomes a leaf: kept
// whole, it decodes exactly as before, only without the speed-up.
func keptNode(t reflect.Type, seen map[reflect.Type]*node) *node {
	if n, ok := seen[t]; ok {
		return n
	}
	// A type that unmarshals itself (str, stamp, time.Time ...) sees its whole JSON value.
	if pt := reflect.PointerTo(t); pt.Implements(unmarshalerType) || pt.Implements(unmarshalerFromType) ||
		pt.Implements(textUnmarshalerType) {
		return leaf
	}
	switch t.Kind() {
	case reflect.Pointer:
		return keptNode(t.Elem(), seen)
	case reflect.Slice, reflect.Array:
		// Every element is kept, so the array indexes in v2's error paths stay the same.
		if elem := keptNode(t.Elem(), seen); elem.kind != leafNode {
			return &node{kind: arrayNode, elem: elem}
		}
	case reflect.Map:
		// Every member is kept, whatever its key, so the key type does not matter here.
		if elem := keptNode(t.Elem(), seen); elem.kind != leafNode {
			return &node{kind: mapNode, elem: elem}
		}
	case reflect.Struct:
		n := &node{kind: objectNode}
		seen[t] = n // before the fields, in case a field refers back to t
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" || (!f.IsExported() && !f.Anonymous) {
				continue // v2 ignores the field
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous || strings.HasPrefix(name, "'") || !plainOptions(opts) {
				// Embedded structs, quoted names, inline, unknown and case-insensitive fields change
				// which member names v2 takes: keep the whole object rather than guess.
				*n = node{kind: leafNode}
				return n
			}
			if name == "" {
				name = f.Name
			}
			n.members = append(n.members, member{name, keptNode(f.Type, seen)})
		}
		return n
	}
	return leaf
}

// plainOptions reports whether opts (the json tag after the name) leaves member names as they are.
func plainOptions(opts string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		switch o {
		case "", "omitempty", "omitzero", "string":
		default:
			return false
		}
	}
	return true
}

// A syntaxError is where a body stops being JSON, in encoding/json's words.
type syntaxError struct {
	offset int // of the offending byte in the body; len(body) at the end of the input
	msg    string
}

func (e *syntaxError) Error() string {
	return "invalid JSON at byte " + strconv.Itoa(e.offset) + ": " + e.msg
}

// errEOF builds the error for a body that ends too soon.
func errEOF(in []byte) *syntaxError {
	return &syntaxError{offset: len(in), msg: "unexpected end of JSON input"}
}

// maxDepth is encoding/json's (and v2's) limit on nested arrays and objects.
const maxDepth = 10000

// maxKeptString caps the bytes between the quotes of every string prune keeps (values, and the member
// names of maps): a longer one is cut there, at a character and escape boundary, and ends with "…".
// No message shows more of one string than a Discord description (4,096 characters, which take at most
// 24 KiB as \u escapes); cutting here, before anything is copied, keeps a body whose bulk is one long
// commit message, description or name from costing many times its size once decoded, rendered and
// persisted.
const maxKeptString = 24 << 10

// maxKeptElements caps the elements of every array and the members of every object prune keeps; the
// rest are validated and dropped. Messages show a few commits, routes and commands; a body of 20 MB of
// empty commits ({},{},...) would otherwise decode into gigabytes of structs.
const maxKeptElements = 1000

// leafList and leafMap prune an array or object kept as written: every element and member is kept (up to
// maxKeptElements), each as written but for its own long strings and long lists.
var (
	leafList = &node{kind: arrayNode, elem: leaf}
	leafMap  = &node{kind: mapNode, elem: leaf}
)

// maxEscapedName is the longest escaped member name prune decodes to see whether it names a kept member:
// every kept name is short, so a longer escaped name cannot be one.
const maxEscapedName = 256

// prune validates body as encoding/json's json.Valid does (non-ASCII bytes are not checked as
// UTF-8, like there) and appends to dst a document with only what the wire structs keep: unknown
// members are dropped, strings longer than maxKeptString are cut, arrays and objects keep their first
// maxKeptElements elements or members, everything else is copied as written, without whitespace
// between tokens.
func prune(body, dst []byte) ([]byte, error) {
	p := pruner{in: body, out: dst}
	if err := p.document(keptTree()); err != nil {
		return dst, err
	}
	return p.out, nil
}

type pruner struct {
	in    []byte
	out   []byte
	depth int // of open arrays and objects
}

// document scans the whole input as one value pruned by n (nil: validate only).
func (p *pruner) document(n *node) error {
	i, err := p.value(p.space(0), n)
	if err != nil {
		return err
	}
	if i = p.space(i); i < len(p.in) {
		return p.errAt(i, "after top-level value")
	}
	return nil
}

// value scans the value starting at in[i], appends it pruned by n to out, and returns the offset
// after it. A nil n drops the value after validating it. A value whose JSON kind is not the one n
// prunes (an array where a struct is expected, null ...) is kept as written, so v2 reports it as
// it always did; an array or object kept by a leaf node is written through leafList or leafMap.
func (p *pruner) value(i int, n *node) (int, error) {
	if i >= len(p.in) {
		return i, errEOF(p.in)
	}
	c := p.in[i]
	if n != nil && ((c == '{' && (n.kind == objectNode || n.kind == mapNode)) || (c == '[' && n.kind == arrayNode)) {
		return p.container(i, n)
	}
	if n != nil && n.kind == leafNode && (c == '{' || c == '[') {
		if c == '{' {
			return p.container(i, leafMap)
		}
		return p.container(i, leafList)
	}
	start := i
	var err error
	switch {
	case c == '"':
		i, _, err = p.str(i)
	case c == '{' || c == '[':
		i, err = p.container(i, nil)
	case c == '-' || (c >= '0' && c <= '9'):
		i, err = p.number(i)
	case c == 't':
		i, err = p.literal(i, "true")
	case c == 'f':
		i, err = p.literal(i, "false")
	case c == 'n':
		i, err = p.literal(i, "null")
	default:
		return i, p.errAt(i, "looking for beginning of value")
	}
	if err == nil && n != nil {
		if c == '"' {
			p.out = appendCut(p.out, p.in[start:i])
		} else {
			p.out = append(p.out, p.in[start:i]...)
		}
	}
	return i, err
}

// appendCut appends the string literal lit (quotes included) to out, cut to maxKeptString bytes
// between the quotes (see there). The cut never splits a UTF-8 sequence, an escape or a surrogate
// pair written as two escapes.
func appendCut(out, lit []byte) []byte {
	if len(lit) <= maxKeptString+2 {
		return append(out, lit...)
	}
	content := lit[1 : len(lit)-1]
	j, lastEsc := 0, -1
	for j < maxKeptString {
		if content[j] != '\\' {
			j++
			continue
		}
		w := 2
		if content[j+1] == 'u' {
			w = 6
		}
		if j+w > maxKeptString {
			break
		}
		lastEsc = j
		j += w
	}
	for j > 0 && content[j]&0xC0 == 0x80 { // content[j] continues the sequence before it
		j--
	}
	if lastEsc >= 0 && lastEsc == j-6 && content[lastEsc+1] == 'u' && highSurrogate(content[lastEsc+2:j]) {
		j = lastEsc
	}
	out = append(out, '"')
	out = append(out, content[:j]...)
	return append(out, "…\""...)
}

// highSurrogate reports whether the four hex digits h are in D800-DBFF.
func highSurrogate(h []byte) bool {
	return (h[0] == 'd' || h[0] == 'D') && strings.IndexByte("89abAB", h[1]) >= 0
}

// container scans the object or array starting at in[i]. With n == nil it only validates; else
// it writes the container and keeps what n says: every array element, and the object members n
// names (every member of a map).
func (p *pruner) container(i int, n *node) (int, error) {
	in := p.in
	open := in[i]
	if p.depth++; p.depth > maxDepth {
		return i, p.errAt(i, "exceeded max depth")
	}
	if n != nil {
		p.out = append(p.out, open)
	}
	closing := byte('}')
	if open == '[' {
		closing = ']'
	}
	i = p.space(i + 1)
	if i < len(in) && in[i] == closing {
		return p.end(i, n)
	}
	kept := 0 // members or elements written so far
	for {
		var child *node
		var err error
		if open == '{' {
			if i, child, err = p.member(i, n, kept); err != nil {
				return i, err
			}
		} else if n != nil && kept < maxKeptElements {
			child = n.elem
			if kept > 0 {
				p.out = append(p.out, ',')
			}
		}
		if child != nil {
			kept++
		}
		if i, err = p.value(i, child); err != nil {
			return i, err
		}
		if i = p.space(i); i >= len(in) {
			return i, errEOF(in)
		}
		switch in[i] {
		case ',':
			i = p.space(i + 1)
		case closing:
			return p.end(i, n)
		default:
			if open == '[' {
				return i, p.errAt(i, "after array element")
			}
			return i, p.errAt(i, "after object key:value pair")
		}
	}
}

// member scans an object member's name and colon at in[i] and returns the offset of its value
// and the node that prunes the value: nil drops the member. A kept member's name and colon are
// written, after a comma unless it is the first member written.
func (p *pruner) member(i int, n *node, kept int) (int, *node, error) {
	in := p.in
	if i >= len(in) {
		return i, nil, errEOF(in)
	}
	if in[i] != '"' {
		return i, nil, p.errAt(i, "looking for beginning of object key string")
	}
	start := i
	i, escaped, err := p.str(i)
	if err != nil {
		return i, nil, err
	}
	var child *node
	switch {
	case n == nil, kept >= maxKeptElements:
	case n.kind == mapNode:
		child = n.elem
	case escaped:
		// An escaped name ("pay\u006coad") means what it decodes to; only a short one can name a kept
		// member. Keeping such a member whole instead would let it carry a long string past the cut.
		if i-start <= maxEscapedName {
			var name string
			if json.Unmarshal(in[start:i], &name, jsontext.AllowInvalidUTF8(true)) == nil {
				child = n.member([]byte(name))
			}
		}
	default:
		child = n.member(in[start+1 : i-1])
	}
	name := in[start:i]
	if i = p.space(i); i >= len(in) {
		return i, nil, errEOF(in)
	}
	if in[i] != ':' {
		return i, nil, p.errAt(i, "after object key")
	}
	if child != nil {
		if kept > 0 {
			p.out = append(p.out, ',')
		}
		p.out = appendCut(p.out, name)
		p.out = append(p.out, ':')
	}
	return p.space(i + 1), child, nil
}

// member returns the node of the member called name, or nil if it is not kept.
func (n *node) member(name []byte) *node {
	for _, m := range n.members {
		if m.name == string(name) {
			return m.node
		}
	}
	return nil
}

// end closes the container whose closing bracket is in[i].
func (p *pruner) end(i int, n *node) (int, error) {
	p.depth--
	if n != nil {
		p.out = append(p.out, p.in[i])
	}
	return i + 1, nil
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// str scans the string starting at the quote in[i] and returns the offset after its closing
// quote and whether it has escapes.
func (p *pruner) str(i int) (int, bool, error) {
	in := p.in
	escaped := false
	for i = plain(in, i+1); i < len(in); i = plain(in, i) {
		switch c := in[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			var err error
			if i, err = p.escape(i); err != nil {
				return i, escaped, err
			}
		default:
			return i, escaped, p.errAt(i, "in string literal")
		}
	}
	return i, escaped, errEOF(in)
}

// plain returns the offset of the first byte at or after in[i] that is '"', '\\' or below 0x20,
// or len(in). Strings are most of a body's bytes: it tests 16 bytes a step.
func plain(in []byte, i int) int {
	rest := in[i:]
	for ; len(rest) >= 16; rest = rest[16:] {
		lo, hi := specials(binary.LittleEndian.Uint64(rest)), specials(binary.LittleEndian.Uint64(rest[8:]))
		if lo != 0 {
			return len(in) - len(rest) + bits.TrailingZeros64(lo)/8
		}
		if hi != 0 {
			return len(in) - len(rest) + 8 + bits.TrailingZeros64(hi)/8
		}
	}
	for k, c := range rest {
		if c == '"' || c == '\\' || c < 0x20 {
			return len(in) - len(rest) + k
		}
	}
	return len(in)
}

// specials flags with its top bit each byte of w (8 bytes of a string, the first in the low byte)
// that is '"', '\\' or below 0x20. It uses the has-less-than trick: (x - n*ones) &^ x has the top
// bit set in the bytes of x below n (n <= 0x80). Only the lowest flag is exact: a borrow out of a
// flagged byte may flag the bytes above it. Bytes below 0x20 stay below 0x20 when xored with 0x02,
// and '"' becomes 0x20, so one test (< 0x21) finds both; xored with '\\', a backslash becomes 0
// (< 1). The xors keep w's top bits, so one &^ w serves both tests.
func specials(w uint64) uint64 {
	q := w ^ (ones * 0x02)
	b := w ^ (ones * '\\')
	return ((q - ones*0x21) | (b - ones)) &^ w & highs
}

// escape checks the escape sequence at the backslash in[i] and returns the offset after it.
func (p *pruner) escape(i int) (int, error) {
	switch p.at(i + 1) {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2, nil
	case 'u':
		for j := i + 2; j < i+6; j++ {
			if c := p.at(j); !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return j, p.errAt(j, "in \\u hexadecimal character escape")
			}
		}
		return i + 6, nil
	}
	return i + 1, p.errAt(i+1, "in string escape code")
}

// number scans the number starting at in[i]: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *pruner) number(i int) (int, error) {
	if p.at(i) == '-' {
		i++
	}
	switch c := p.at(i); {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i = p.digits(i + 1)
	default:
		return i, p.errAt(i, "in numeric literal")
	}
	if p.at(i) == '.' {
		if c := p.at(i + 1); c < '0' || c > '9' {
			return i + 1, p.errAt(i+1, "after decimal point in numeric literal")
		}
		i = p.digits(i + 1)
	}
	if c := p.at(i); c == 'e' || c == 'E' {
		i++
		if c := p.at(i); c == '+' || c == '-' {
			i++
		}
		if c := p.at(i); c < '0' || c > '9' {
			return i, p.errAt(i, "in exponent of numeric literal")
		}
		i = p.digits(i)
	}
	return i, nil
}

// digits returns the offset of the first byte at or after in[i] that is not a digit.
func (p *pruner) digits(i int) int {
	for i < len(p.in) && '0' <= p.in[i] && p.in[i] <= '9' {
		i++
	}
	return i
}

// literal scans true, false or null (word) starting at in[i].
func (p *pruner) literal(i int, word string) (int, error) {
	for j := 1; j < len(word); j++ {
		if p.at(i+j) != word[j] {
			return i + j, p.errAt(i+j, "in literal "+word+" (expecting "+quoteChar(word[j])+")")
		}
	}
	return i + len(word), nil
}

// space returns the offset of the first byte at or after in[i] that is not JSON whitespace.
func (p *pruner) space(i int) int {
	in := p.in
	for i < len(in) && in[i] <= ' ' {
		switch in[i] {
		case ' ', '\t', '\r':
			i++
		case '\n':
			i++
			// Pretty-printed bodies indent lines with spaces: skip them 8 at a time, the lowest
			// non-zero byte of w being the first that is not a space.
			for i+8 <= len(in) {
				if w := binary.LittleEndian.Uint64(in[i:]) ^ (ones * ' '); w != 0 {
					i += bits.TrailingZeros64(w) / 8
					break
				}
				i += 8
			}
		default:
			return i
		}
	}
	return i
}

// at returns in[i], or a space past the end: like encoding/json, a body that ends inside a number,
// literal or escape is blamed on a space there ("invalid character ' ' in numeric literal").
func (p *pruner) at(i int) byte {
	if i < len(p.in) {
		return p.in[i]
	}
	return ' '
}

// errAt builds encoding/json's error for the byte at in[i] (a space past the end), found in the
// place context names.
func (p *pruner) errAt(i int, context string) *syntaxError {
	return &syntaxError{offset: i, msg: "invalid character " + quoteChar(p.at(i)) + " " + context}
}

// quoteChar formats c as encoding/json does in its errors, such as 'x' or '\n'.
func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}
