package app

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/internal/config"
	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/internal/receiver"
)

// benchKey is the shared key of the benchmarks; it is valid base64url, so the bridge verifies with the
// decoded form (the first one it tries).
const benchKey = "YWN0aXZpdHlicmlkZ2UtYmVuY2gta2V5LTAwMDE"

// jwsHeaderSeg is the protected header every Platform.sh signature carries, base64url-encoded.
var jwsHeaderSeg = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","b64":false,"crit":["b64"]}`))

// uniqueBody turns a fixture into a body whose activity id can change per request without re-hashing the
// whole body: the id moves to the end of the object (prefix + `<id>"}`), and the HMAC's inner SHA-256 state
// over header segment, dot and prefix is saved once. Every request needs its own id, or the outbox's
// de-duplication would answer it 200 without persisting anything.
type uniqueBody struct {
	prefix []byte
	inner  []byte // marshalled sha256 state after ipad, header segment, "." and prefix
	opad   [64]byte
}

func newUniqueBody(tb testing.TB, name string) *uniqueBody {
	tb.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(fixture.Bytes(name), &obj); err != nil {
		tb.Fatal(err)
	}
	delete(obj, "id")
	b, err := json.Marshal(obj)
	if err != nil {
		tb.Fatal(err)
	}
	u := &uniqueBody{prefix: append(b[:len(b)-1], `,"id":"`...)}
	key, err := base64.RawURLEncoding.DecodeString(benchKey)
	if err != nil || len(key) > 64 {
		tb.Fatalf("bench key: %v", err)
	}
	var ipad [64]byte
	for i := range 64 {
		var k byte
		if i < len(key) {
			k = key[i]
		}
		ipad[i], u.opad[i] = k^0x36, k^0x5c
	}
	h := sha256.New()
	h.Write(ipad[:])
	h.Write([]byte(jwsHeaderSeg + "."))
	h.Write(u.prefix)
	if u.inner, err = h.(encoding.BinaryMarshaler).MarshalBinary(); err != nil {
		tb.Fatal(err)
	}
	return u
}

// next returns the suffix that completes the body with activity id, and the X-JWS-Signature of the body.
func (u *uniqueBody) next(id string) (suffix []byte, signature string) {
	suffix = []byte(id + `"}`)
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(u.inner); err != nil {
		panic(err)
	}
	h.Write(suffix)
	sum := h.Sum(nil)
	o := sha256.New()
	o.Write(u.opad[:])
	o.Write(sum)
	return suffix, jwsHeaderSeg + ".." + base64.RawURLEncoding.EncodeToString(o.Sum(nil))
}

// benchSeq makes activity ids unique across every benchmark of the process.
var benchSeq atomic.Uint64

// benchApp builds the service as `serve` does (config from BRIDGE_* variables, bolt store in a temp dir, one
// slack-webhook destination whose URL is a closed port: the worker is not started, so nothing is sent) and
// returns its webhook handler.
func benchApp(b *testing.B) http.Handler {
	b.Helper()
	b.Setenv("BRIDGE_SHARED_KEY", benchKey)
	b.Setenv("BRIDGE_DATA_DIR", b.TempDir())
	b.Setenv("BRIDGE_STORE", "bolt")
	b.Setenv("BRIDGE_ROUTES", "abcdefgh1234567/* -> slack-webhook:bench")
	b.Setenv("BRIDGE_SLACK_WEBHOOKS", "bench=http://127.0.0.1:9/hook")
	cfg, err := config.Load()
	if err != nil {
		b.Fatal(err)
	}
	a, err := New(cfg, zerolog.Nop(), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.store.Close() })
	h, err := receiver.NewHandler(receiver.Options{
		SharedKey: cfg.SharedKey.Value(),
		MaxBody:   int64(cfg.MaxBody), MaxConcurrentBodies: 64,
		Ready:     a.ready,
	}, a.Accept, zerolog.Nop(), prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// bareHandler is the floor: read the body, answer 202.
var bareHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
})

// BenchmarkWebhook runs POST /webhook in process on the 14 KB documentation push and the ~1.3 MB push-big,
// through the whole service handler (signature, decode, route, render, bolt group commit with fsync) and
// through bareHandler, with the same requests (a fresh activity id each, signed). The requests run from
// 16 goroutines per CPU, as concurrent clients would; the bolt commit is shared by concurrent Enqueues.
// Compare bridge with bare of the same body: the load program (internal/loadtest) measures the same ratio
// over real sockets.
func BenchmarkWebhook(b *testing.B) {
	for _, name := range []string{"environment.push", "push-big"} {
		body := newUniqueBody(b, name)
		for _, kind := range []string{"bridge", "bare"} {
			b.Run(name+"/"+kind, func(b *testing.B) {
				h := http.Handler(bareHandler)
				if kind == "bridge" {
					h = benchApp(b)
				}
				size := len(body.prefix) + len(`0000000000000000"}`)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						suffix, sig := body.next(fmt.Sprintf("%016x", benchSeq.Add(1)))
						r := httptest.NewRequest(http.MethodPost, "/webhook",
							io.MultiReader(bytes.NewReader(body.prefix), bytes.NewReader(suffix)))
						r.ContentLength = int64(len(body.prefix) + len(suffix))
						r.Header.Set(receiver.SignatureHeader, sig)
						w := httptest.NewRecorder()
						h.ServeHTTP(w, r)
						if w.Code != http.StatusAccepted {
							b.Errorf("status %d, want 202: %s", w.Code, strings.TrimSpace(w.Body.String()))
							return
						}
					}
				})
			})
		}
	}
}
