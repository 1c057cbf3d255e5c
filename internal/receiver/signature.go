package receiver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json"
)

// SignatureHeader is the request header that carries the JWS signature of the body.
const SignatureHeader = "X-JWS-Signature"

// The key forms Verify reports: which reading of the shared key produced the matching signature.
const (
	// KeyFormBase64URL is the shared key base64url-decoded (jwcrypto's reading; the 2019 test vector).
	KeyFormBase64URL = "base64url"
	// KeyFormRaw is the shared key's own bytes (the reading of the current docs' Go and Node examples).
	KeyFormRaw = "raw"
)

// ErrBadSignature is wrapped by every error Verify returns.
var ErrBadSignature = errors.New("bad signature")

// Strict decoding rejects non-canonical encodings (non-zero trailing bits), so that exactly one header string
// verifies for a given body and key.
var jwsEncoding = base64.RawURLEncoding.Strict()

// jwsHeader is the protected header; pointers tell a missing member from its zero value.
type jwsHeader struct {
	Alg  *string  `json:"alg"`
	B64  *bool    `json:"b64"`
	Crit []string `json:"crit"`
}

// Verify checks the X-JWS-Signature header value of a Platform.sh webhook against the raw body: JWS compact
// serialisation with a detached, unencoded payload (RFC 7797), HS256 only. The protected header must say
// alg HS256, b64 false and crit ["b64"]; member names are case-sensitive (RFC 7515: "ALG" is not "alg") and
// may not repeat. The signature is HMAC-SHA256 over the header segment, a dot and the raw body. Platform.sh's
// documentation reads the shared key two ways, so Verify tries the key base64url-decoded (leniently: '+' and
// '/' are read as '-' and '_', '=' is dropped) and then the key's raw bytes, and returns which form matched
// (KeyFormBase64URL or KeyFormRaw). Comparisons run in constant time. Every error wraps ErrBadSignature, says
// what is wrong and never contains the key or the signature.
func Verify(body []byte, header, sharedKey string) (keyForm string, err error) {
	if sharedKey == "" {
		return "", fmt.Errorf("%w: no shared key to check it with", ErrBadSignature)
	}
	sig, err := parseSignature(header)
	if err != nil {
		return "", err
	}
	return sig.verify(body, sharedKey)
}

// signature is an X-JWS-Signature header whose form has been checked; only the HMAC remains to check.
type signature struct {
	hdrSeg string
	mac    []byte
}

// parseSignature checks everything about the header that does not need the body, so that a request with
// a missing or malformed header is refused before its body is read.
func parseSignature(header string) (signature, error) {
	if header == "" {
		return signature{}, fmt.Errorf("%w: missing %s header", ErrBadSignature, SignatureHeader)
	}
	hdrSeg, rest, ok := strings.Cut(header, ".")
	if !ok {
		return signature{}, fmt.Errorf("%w: not a JWS compact serialisation (want header..signature)", ErrBadSignature)
	}
	payloadSeg, sigSeg, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sigSeg, ".") {
		return signature{}, fmt.Errorf("%w: not a JWS compact serialisation (want header..signature)", ErrBadSignature)
	}
	if payloadSeg != "" {
		return signature{}, fmt.Errorf("%w: payload must be detached (empty middle segment)", ErrBadSignature)
	}
	rawHdr, err := jwsEncoding.DecodeString(hdrSeg)
	if err != nil {
		return signature{}, fmt.Errorf("%w: protected header is not base64url", ErrBadSignature)
	}
	// encoding/json/v2 matches member names exactly and refuses duplicates, as RFC 7515 requires.
	var h jwsHeader
	if err := json.Unmarshal(rawHdr, &h); err != nil {
		return signature{}, fmt.Errorf("%w: protected header is not a JSON object of the expected shape", ErrBadSignature)
	}
	switch {
	case h.Alg == nil || *h.Alg != "HS256":
		return signature{}, fmt.Errorf("%w: alg must be HS256", ErrBadSignature)
	case h.B64 == nil || *h.B64:
		return signature{}, fmt.Errorf("%w: b64 must be false", ErrBadSignature)
	case len(h.Crit) != 1 || h.Crit[0] != "b64":
		return signature{}, fmt.Errorf(`%w: crit must be ["b64"]`, ErrBadSignature)
	}
	got, err := jwsEncoding.DecodeString(sigSeg)
	if err != nil {
		return signature{}, fmt.Errorf("%w: signature is not base64url", ErrBadSignature)
	}
	if len(got) != sha256.Size {
		return signature{}, fmt.Errorf("%w: signature is not %d bytes long", ErrBadSignature, sha256.Size)
	}
	return signature{hdrSeg: hdrSeg, mac: got}, nil
}

// verify checks the HMAC of body under both readings of sharedKey.
func (s signature) verify(body []byte, sharedKey string) (keyForm string, err error) {
	if k, ok := decodeKeyLenient(sharedKey); ok && hmac.Equal(sign(k, s.hdrSeg, body), s.mac) {
		return KeyFormBase64URL, nil
	}
	if hmac.Equal(sign([]byte(sharedKey), s.hdrSeg, body), s.mac) {
		return KeyFormRaw, nil
	}
	return "", fmt.Errorf("%w: signature does not match the body and shared key", ErrBadSignature)
}

// sign is HMAC-SHA256(key, headerSegment "." body): the JWS signing input with an unencoded payload.
func sign(key []byte, hdrSeg string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(hdrSeg))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// stdToURL maps base64's standard alphabet onto the URL-safe one; built once, not per request.
var stdToURL = strings.NewReplacer("+", "-", "/", "_")

// decodeKeyLenient reads the shared key as base64url the way Python's jwcrypto does: both alphabets, padding
// optional, trailing bits ignored. It reports false when the key is not base64 at all.
func decodeKeyLenient(key string) ([]byte, bool) {
	s := stdToURL.Replace(strings.TrimRight(key, "="))
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, false
	}
	return b, true
}
