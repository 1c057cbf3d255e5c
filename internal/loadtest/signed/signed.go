// Package signed makes signed Platform.sh webhook requests for benchmarks (one signature at a time, for
// anything else: package internal/jws): one fixture body, a fresh activity
// id per request (the outbox de-duplicates by activity and state, so a repeated id would not be persisted)
// and a valid X-JWS-Signature, without re-hashing the whole body per request.
//
// The id member moves to the end of the object (body = prefix + id + `"}`; every other byte of the fixture
// stays as it is), and the inner SHA-256 state of the HMAC over ipad, header segment, "." and prefix is
// computed once. A request then hashes a few dozen bytes, so the client takes no noticeable CPU from the
// server it measures.
package signed

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/internal/jws"
)

// Header is the name of the signature header.
const Header = jws.Header

// jwsHeaderSeg is the protected header of every Platform.sh signature, base64url-encoded.
var jwsHeaderSeg = jws.HeaderSegment

// Body is one fixture made ready for signed requests with fresh ids. It is safe for concurrent use.
type Body struct {
	prefix []byte
	inner  []byte // marshalled sha256 state after ipad, header segment, "." and prefix
	opad   [64]byte
}

// New prepares the fixture called name (internal/fixture) for signing with sharedKey, which must be
// base64url (the form the bridge tries first) of at most 64 bytes.
func New(name, sharedKey string) (*Body, error) {
	rest, err := withoutID(fixture.Bytes(name))
	if err != nil {
		return nil, fmt.Errorf("fixture %s: %w", name, err)
	}
	b := &Body{prefix: append(rest, `,"id":"`...)}
	k, err := base64.RawURLEncoding.DecodeString(sharedKey)
	if err != nil || len(k) > 64 {
		return nil, errors.New("shared key is not base64url of at most 64 bytes")
	}
	var ipad [64]byte
	for i := range 64 {
		var c byte
		if i < len(k) {
			c = k[i]
		}
		ipad[i], b.opad[i] = c^0x36, c^0x5c
	}
	h := sha256.New()
	h.Write(ipad[:])
	h.Write([]byte(jwsHeaderSeg + "."))
	h.Write(b.prefix)
	if b.inner, err = h.(encoding.BinaryMarshaler).MarshalBinary(); err != nil {
		return nil, err
	}
	return b, nil
}

// Len is the length of a body whose id is idLen bytes long.
func (b *Body) Len(idLen int) int { return len(b.prefix) + idLen + len(`"}`) }

// Next returns a reader of the body with activity id (which must need no JSON escaping), its length and
// its X-JWS-Signature.
func (b *Body) Next(id string) (body io.Reader, length int64, signature string) {
	suffix := []byte(id + `"}`)
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(b.inner); err != nil {
		panic(err) // the state was marshalled by the same sha256 package
	}
	h.Write(suffix)
	sum := h.Sum(nil)
	o := sha256.New()
	o.Write(b.opad[:])
	o.Write(sum)
	sig := jwsHeaderSeg + ".." + base64.RawURLEncoding.EncodeToString(o.Sum(nil))
	return io.MultiReader(bytes.NewReader(b.prefix), bytes.NewReader(suffix)), int64(len(b.prefix) + len(suffix)), sig
}

// withoutID returns body, a JSON object, with its top-level "id" member and the closing brace cut out.
func withoutID(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	for dec.More() {
		before := int(dec.InputOffset())
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if key != "id" {
			continue
		}
		start := before + bytes.IndexByte(body[before:], '"') // the key's opening quote
		end := int(dec.InputOffset())
		next := bytes.TrimLeft(body[end:], " \t\r\n")
		if len(next) > 0 && next[0] == ',' {
			end = len(body) - len(next) + 1 // drop the comma after the member
		} else if j := bytes.LastIndexByte(body[:start], ','); j >= 0 && len(bytes.TrimSpace(body[j+1:start])) == 0 {
			start = j // the last member: drop the comma before it
		}
		out := bytes.TrimRight(append(slices.Clone(body[:start]), body[end:]...), " \t\r\n")
		if len(out) == 0 || out[len(out)-1] != '}' {
			return nil, errors.New("no closing brace")
		}
		return bytes.TrimRight(out[:len(out)-1], " \t\r\n"), nil
	}
	return nil, errors.New("no top-level id")
}
