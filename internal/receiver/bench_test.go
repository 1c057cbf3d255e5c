package receiver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// benchBody is a JSON body of about 14 KB, the size of a typical environment.push activity.
func benchBody() []byte {
	var b bytes.Buffer
	b.WriteString(`{"id":"bench","type":"environment.push","project":"abcdefgh1234567","log":"`)
	for b.Len() < 14_000 {
		fmt.Fprintf(&b, "line %05d of the build and deploy log\\n", b.Len())
	}
	b.WriteString(`"}`)
	return b.Bytes()
}

func runBench(b *testing.B, h http.Handler, body []byte, header string, want int) {
	b.Helper()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/webhook/t0k3n", bytes.NewReader(body))
		req.Header.Set(SignatureHeader, header)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Fatalf("status = %d, want %d: %s", rec.Code, want, rec.Body)
		}
	}
}

// BenchmarkHandler runs the full webhook path (path token, slot, capped read, signature, metrics, log line)
// with an Accept that does nothing.
func BenchmarkHandler(b *testing.B) {
	body := benchBody()
	accept := func(context.Context, []byte) (string, int, error) { return "bench", 1, nil }
	h, err := NewHandler(Options{SharedKey: "c2VjcmV0LWtleS1mb3ItYmVuY2htYXJrcw", PathToken: "t0k3n"},
		accept, zerolog.Nop(), prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	k, _ := decodeKeyLenient("c2VjcmV0LWtleS1mb3ItYmVuY2htYXJrcw")
	runBench(b, h, body, jws(goodHeaderJSON, k, body), http.StatusAccepted)
}

// BenchmarkBare is the floor BenchmarkHandler is measured against: read the body, answer 202.
func BenchmarkBare(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	runBench(b, h, benchBody(), "", http.StatusAccepted)
}
