// Package jws signs a webhook body the way Platform.sh does: a detached, unencoded JWS (RFC 7797) with
// the protected header {"alg":"HS256","b64":false,"crit":["b64"]}, sent in the X-JWS-Signature header.
// `activitybridge send` and the load test use it; the bridge's own check is receiver.Verify.
package jws

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// Header is the name of the HTTP header that carries the signature.
const Header = "X-JWS-Signature"

// HeaderSegment is the protected header of every signature, {"alg":"HS256","b64":false,"crit":["b64"]},
// base64url-encoded without padding. A constant, so that no importer can change it.
const HeaderSegment = "eyJhbGciOiJIUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19"

// Sign returns the X-JWS-Signature of body: "<header segment>..<base64url HMAC-SHA256>", the HMAC keyed
// with the shared key's bytes as written and taken over the header segment, a dot and the raw body. The
// bridge accepts this form of the key whatever the key looks like (it also tries the key base64url-decoded).
func Sign(body []byte, sharedKey string) string {
	m := hmac.New(sha256.New, []byte(sharedKey))
	m.Write([]byte(HeaderSegment + "."))
	m.Write(body)
	return HeaderSegment + ".." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
