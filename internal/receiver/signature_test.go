package receiver

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// The public test vector (health.webhook.json, shared key "secret"), from the Platform.sh docs of 2019.
const (
	vectorKey    = "secret"
	vectorHeader = "eyJhbGciOiJIUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19..fYW9qrjShmEArV17Z1kH6yudoXzpBE3PzJXq_OqrIfM"
	// vectorRawHeader is the same body signed with the raw bytes of "secret" (fixtures README).
	vectorRawHeader = "eyJhbGciOiJIUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19..qUYBVwiIo6uLWDU_48-PhOi4Tw0ZSQNFFZWaL-JdsrA"
	goodHeaderJSON  = `{"alg":"HS256","b64":false,"crit":["b64"]}`
)

func vectorBody(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/health.webhook.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 1495 {
		t.Fatalf("testdata/health.webhook.json is %d bytes, want 1495 (copy it byte-exactly)", len(b))
	}
	return b
}

// jws signs body the way Platform.sh does, with any protected header JSON, so that each table row can
// break exactly one thing.
func jws(headerJSON string, key, body []byte) string {
	seg := base64.RawURLEncoding.EncodeToString([]byte(headerJSON))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(seg + "."))
	m.Write(body)
	return seg + ".." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestVerifyKeyForms(t *testing.T) {
	body := vectorBody(t)
	// A key as `openssl rand -base64 32` prints it: standard alphabet with '+', '/' and padding.
	const stdKey = "q+/9Zm3bVt0k2pL7x1YwRj8uN4cE6sHaT5gKiOoPzQA="
	stdKeyBytes, err := base64.StdEncoding.DecodeString(stdKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		body   []byte
		header string
		key    string
		want   string
	}{
		{"public vector, key base64url-decoded", body, vectorHeader, vectorKey, KeyFormBase64URL},
		{"public vector body signed with the raw key", body, vectorRawHeader, vectorKey, KeyFormRaw},
		{"raw key that is not base64 at all", body, jws(goodHeaderJSON, []byte("k"), body), "k", KeyFormRaw},
		{"openssl base64 key decoded", body, jws(goodHeaderJSON, stdKeyBytes, body), stdKey, KeyFormBase64URL},
		{"openssl base64 key as raw bytes", body, jws(goodHeaderJSON, []byte(stdKey), body), stdKey, KeyFormRaw},
		{"header members in another order", body, jws(`{"crit":["b64"],"b64":false,"alg":"HS256"}`, []byte("k"), body), "k", KeyFormRaw},
		{"extra header member", body, jws(`{"alg":"HS256","b64":false,"crit":["b64"],"kid":"x"}`, []byte("k"), body), "k", KeyFormRaw},
		{"empty body", nil, jws(goodHeaderJSON, []byte("k"), nil), "k", KeyFormRaw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Verify(tt.body, tt.header, tt.key)
			if err != nil {
				t.Fatalf("Verify() error = %v, want key form %q", err, tt.want)
			}
			if got != tt.want {
				t.Errorf("Verify() key form = %q, want %q", got, tt.want)
			}
		})
	}
}

// badSignatures are headers for body that must all be refused; every row is otherwise correctly signed
// with key, so a row passes only if the check it targets exists.
func badSignatures(body, key []byte) []struct{ name, header, reason string } {
	seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	good := jws(goodHeaderJSON, key, body)
	goodSeg, goodSig, _ := strings.Cut(good, "..")
	// Same 32 bytes, non-canonical last character (one of the two unused low bits set).
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", goodSig[len(goodSig)-1])
	nonCanonical := goodSig[:len(goodSig)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last^1])
	return []struct{ name, header, reason string }{
		{"empty header", "", "missing"},
		{"alg HS512", jws(`{"alg":"HS512","b64":false,"crit":["b64"]}`, key, body), "alg"},
		{"alg RS256", jws(`{"alg":"RS256","b64":false,"crit":["b64"]}`, key, body), "alg"},
		{"alg none, empty signature", seg(`{"alg":"none","b64":false,"crit":["b64"]}`) + "..", "alg"},
		{"alg none, hmac signature", jws(`{"alg":"none","b64":false,"crit":["b64"]}`, key, body), "alg"},
		{"alg lower case", jws(`{"alg":"hs256","b64":false,"crit":["b64"]}`, key, body), "alg"},
		{"alg missing", jws(`{"b64":false,"crit":["b64"]}`, key, body), "alg"},
		{"alg not a string", jws(`{"alg":256,"b64":false,"crit":["b64"]}`, key, body), "JSON"},
		{"crit missing", jws(`{"alg":"HS256","b64":false}`, key, body), "crit"},
		{"crit empty", jws(`{"alg":"HS256","b64":false,"crit":[]}`, key, body), "crit"},
		{"crit extra", jws(`{"alg":"HS256","b64":false,"crit":["b64","exp"]}`, key, body), "crit"},
		{"crit wrong", jws(`{"alg":"HS256","b64":false,"crit":["exp"]}`, key, body), "crit"},
		{"crit a string", jws(`{"alg":"HS256","b64":false,"crit":"b64"}`, key, body), "JSON"},
		{"b64 true", jws(`{"alg":"HS256","b64":true,"crit":["b64"]}`, key, body), "b64"},
		{"b64 missing", jws(`{"alg":"HS256","crit":["b64"]}`, key, body), "b64"},
		{"b64 a string", jws(`{"alg":"HS256","b64":"false","crit":["b64"]}`, key, body), "JSON"},
		{"member names in upper case", jws(`{"ALG":"HS256","B64":false,"CRIT":["b64"]}`, key, body), "alg"},
		{"alg in upper case", jws(`{"ALG":"HS256","b64":false,"crit":["b64"]}`, key, body), "alg"},
		{"alg in mixed case next to a bad alg", jws(`{"Alg":"HS256","alg":"none","b64":false,"crit":["b64"]}`, key, body), "alg"},
		{"alg twice", jws(`{"alg":"none","alg":"HS256","b64":false,"crit":["b64"]}`, key, body), "JSON"},
		{"header not an object", jws(`["HS256"]`, key, body), "JSON"},
		{"header JSON null", jws(`null`, key, body), "alg"},
		{"attached payload", goodSeg + "." + seg(string(body)) + "." + goodSig, "detached"},
		{"two segments", goodSeg + "." + goodSig, "compact"},
		{"four segments", good + ".", "compact"},
		{"bad base64 in header", "eyJ!!!" + ".." + goodSig, "header is not base64url"},
		{"padded header", seg(goodHeaderJSON) + "=.." + goodSig, "header is not base64url"},
		{"bad base64 in signature", goodSeg + "..fYW9qrjS*mEArV17Z1kH6yudoXzpBE3PzJXq_OqrIfM", "signature is not base64url"},
		{"standard alphabet in signature", goodSeg + ".." + goodSig[:len(goodSig)-2] + "+/", "signature is not base64url"},
		{"non-canonical signature encoding", goodSeg + ".." + nonCanonical, "signature is not base64url"},
		{"short signature", goodSeg + ".." + goodSig[:20], "bytes long"},
		{"signature of another body", jws(goodHeaderJSON, key, append([]byte("x"), body...)), "does not match"},
		{"signature with another key", jws(goodHeaderJSON, []byte("another key"), body), "does not match"},
	}
}

func TestVerifyRejects(t *testing.T) {
	body := vectorBody(t)
	for _, tt := range badSignatures(body, []byte(vectorKey)) {
		t.Run(tt.name, func(t *testing.T) {
			form, err := Verify(body, tt.header, vectorKey)
			if err == nil {
				t.Fatalf("Verify() = %q, nil; want an error about %q", form, tt.reason)
			}
			if !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify() error %v does not wrap ErrBadSignature", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Verify() error = %q, want it to mention %q", err, tt.reason)
			}
			if strings.Contains(err.Error(), vectorKey) {
				t.Errorf("Verify() error %q contains the shared key", err)
			}
		})
	}
	t.Run("no shared key", func(t *testing.T) {
		if _, err := Verify(body, vectorHeader, ""); err == nil {
			t.Error("Verify() with an empty shared key succeeded, want an error")
		}
	})
}

func TestHandlerRejectsBadSignatures(t *testing.T) {
	body := vectorBody(t)
	rows := badSignatures(body, []byte(vectorKey))
	// The control row: the same table machinery with a good header gets through.
	rows = append(rows, struct{ name, header, reason string }{"control: good signature", vectorHeader, ""})
	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			acc := &fakeAccept{id: "a1", queued: 1}
			h := newTestHandler(t, Options{SharedKey: vectorKey}, acc)
			req := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
			if tt.header != "" {
				req.Header.Set("X-JWS-Signature", tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			wantStatus, wantCalls := http.StatusUnauthorized, 0
			if tt.reason == "" {
				wantStatus, wantCalls = http.StatusAccepted, 1
			}
			if rec.Code != wantStatus {
				t.Errorf("status = %d, want %d (body %s)", rec.Code, wantStatus, rec.Body)
			}
			if got := acc.calls(); got != wantCalls {
				t.Errorf("Accept called %d times, want %d", got, wantCalls)
			}
			if tt.reason != "" {
				msg := decodeError(t, rec)
				if !strings.Contains(msg, tt.reason) {
					t.Errorf("error = %q, want it to mention %q", msg, tt.reason)
				}
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	body, err := os.ReadFile("testdata/health.webhook.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body, vectorHeader, vectorKey)
	f.Add(body, vectorRawHeader, vectorKey)
	f.Add([]byte("{}"), jws(goodHeaderJSON, []byte("k"), []byte("{}")), "k")
	for _, tt := range badSignatures(body, []byte(vectorKey)) {
		f.Add(body, tt.header, vectorKey)
	}
	f.Fuzz(func(t *testing.T, body []byte, header, key string) {
		form, err := Verify(body, header, key)
		if err != nil {
			if form != "" {
				t.Errorf("Verify() = %q with error %v, want an empty key form", form, err)
			}
			return
		}
		// Success must mean the header is exactly the canonical signature of body under the form's key:
		// a header the fuzzer made up (rather than signed) never verifies.
		var k []byte
		switch form {
		case KeyFormRaw:
			k = []byte(key)
		case KeyFormBase64URL:
			var ok bool
			if k, ok = decodeKeyLenient(key); !ok {
				t.Fatalf("Verify() = %q for a key that does not decode", form)
			}
		default:
			t.Fatalf("Verify() key form = %q, want %q or %q", form, KeyFormRaw, KeyFormBase64URL)
		}
		seg, _, _ := strings.Cut(header, ".")
		hdr, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			t.Fatalf("verified header segment does not decode: %v", err)
		}
		if want := jws(string(hdr), k, body); header != want {
			t.Errorf("Verify() accepted %q, but the signature of this body is %q", header, want)
		}
	})
}
