package outbox

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// httpDo sends what the deadletters command sends: Host 127.0.0.1:8081, and a JSON Content-Type on a POST.
func httpDo(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rw := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, nil)
	req.Host = "127.0.0.1:8081"
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	h.ServeHTTP(rw, req)
	return rw
}

func TestAdminHandler(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			ctx := context.Background()
			mustEnqueue(t, s, "a1", "pending", job("slack:#d", "one"), job("discord:prod", "two"), job("console", "three"))
			list := laneJobs(t, s, "slack:#d", "discord:prod", "console")
			for _, j := range list[:2] {
				if _, err := s.Kill(ctx, claimLane(t, s, j.Dest), j, "permanent: boom"); err != nil {
					t.Fatal(err)
				}
			}
			h := AdminHandler(s, nil)

			rw := httpDo(t, h, "GET", "/deadletters")
			var got []DeadLetter
			if err := json.Unmarshal(rw.Body.Bytes(), &got); err != nil || rw.Code != 200 {
				t.Fatalf("GET /deadletters = %d %s (%v); want 200 and a JSON list", rw.Code, rw.Body, err)
			}
			if len(got) != 2 || got[0].Job.ID != 1 || got[1].Reason != "permanent: boom" || got[0].Job.Msg.Title != "one" {
				t.Errorf("GET /deadletters = %+v; want jobs 1 and 2 with their reason", got)
			}
			if ct := rw.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", ct)
			}

			tests := []struct {
				name, method, path string
				wantCode           int
				wantBody           string
				wantPending        int
			}{
				{"replay one", "POST", "/deadletters/1/replay", 200, `{"job":4,"replayed":1}`, 2},
				{"replay it again", "POST", "/deadletters/1/replay", 404, `{"error":"no dead letter 1"}`, 2},
				{"bad id", "POST", "/deadletters/x/replay", 400, `"error"`, 2},
				{"replay needs POST", "GET", "/deadletters/2/replay", 405, "", 2},
				{"replay all", "POST", "/deadletters/replay", 200, `{"replayed":1}`, 3},
				{"nothing left", "POST", "/deadletters/replay", 200, `{"replayed":0}`, 3},
				{"empty list", "GET", "/deadletters", 200, `[]`, 3},
			}
			for _, tt := range tests {
				rw := httpDo(t, h, tt.method, tt.path)
				if rw.Code != tt.wantCode || !strings.Contains(rw.Body.String(), tt.wantBody) {
					t.Errorf("%s: %s %s = %d %s; want %d %s", tt.name, tt.method, tt.path, rw.Code, rw.Body, tt.wantCode, tt.wantBody)
				}
				if got := pending(t, s); got != tt.wantPending {
					t.Errorf("%s: pending = %d; want %d", tt.name, got, tt.wantPending)
				}
			}
		})
	}
}

func TestAdminHandlerStoreError(t *testing.T) {
	s := NewMemory()
	_ = s.Close()
	rw := httpDo(t, AdminHandler(s, nil), "GET", "/deadletters")
	if rw.Code != http.StatusServiceUnavailable || !strings.Contains(rw.Body.String(), "closed") {
		t.Errorf("GET /deadletters on a closed store = %d %s; want 503 saying it is closed", rw.Code, rw.Body)
	}
}

// TestAdminHandlerRefusesBrowsers: a cross-site page (foreign Origin, a form's text/plain body) or a
// DNS-rebound name (foreign Host) can neither list nor replay dead letters.
func TestAdminHandlerRefusesBrowsers(t *testing.T) {
	s := NewMemory()
	mustEnqueue(t, s, "a1", "pending", job("slack:#d", "one"))
	list := laneJobs(t, s, "slack:#d")
	if _, err := s.Kill(context.Background(), claimLane(t, s, "slack:#d"), list[0], "permanent: boom"); err != nil {
		t.Fatal(err)
	}
	h := AdminHandler(s, nil)
	tests := []struct {
		name, method, path, host, origin, contentType string
		local                                         string // the address the connection came in on
		want                                          int
	}{
		{"list from the CLI", "GET", "/deadletters", "127.0.0.1:8081", "", "", "127.0.0.1:8081", 200},
		{"list as localhost", "GET", "/deadletters", "localhost:8081", "", "", "127.0.0.1:8081", 200},
		{"list over IPv6 loopback", "GET", "/deadletters", "[::1]:8081", "", "", "[::1]:8081", 200},
		{"list on the address it listens on", "GET", "/deadletters", "10.1.2.3:8081", "", "", "10.1.2.3:8081", 200},
		{"list with its own origin", "GET", "/deadletters", "127.0.0.1:8081", "http://127.0.0.1:8081", "", "127.0.0.1:8081", 200},
		{"list by a rebound name", "GET", "/deadletters", "evil.example:8081", "", "", "127.0.0.1:8081", 421},
		{"list by another address", "GET", "/deadletters", "10.9.9.9:8081", "", "", "10.1.2.3:8081", 421},
		{"list without a Host", "GET", "/deadletters", "", "", "", "127.0.0.1:8081", 421},
		{"list from a foreign origin", "GET", "/deadletters", "127.0.0.1:8081", "https://evil.example", "", "127.0.0.1:8081", 403},
		{"list from a null origin", "GET", "/deadletters", "127.0.0.1:8081", "null", "", "127.0.0.1:8081", 403},
		{"cross-site form replay", "POST", "/deadletters/1/replay", "127.0.0.1:8081", "https://evil.example", "text/plain", "127.0.0.1:8081", 403},
		{"replay as text/plain", "POST", "/deadletters/1/replay", "127.0.0.1:8081", "", "text/plain", "127.0.0.1:8081", 415},
		{"replay all as a form", "POST", "/deadletters/replay", "127.0.0.1:8081", "", "application/x-www-form-urlencoded", "127.0.0.1:8081", 415},
		{"replay without a Content-Type", "POST", "/deadletters/replay", "127.0.0.1:8081", "", "", "127.0.0.1:8081", 415},
		{"replay by a rebound name", "POST", "/deadletters/replay", "evil.example:8081", "", "application/json", "127.0.0.1:8081", 421},
		{"replay with PUT", "PUT", "/deadletters/replay", "127.0.0.1:8081", "", "application/json", "127.0.0.1:8081", 405},
		{"replay from the CLI", "POST", "/deadletters/1/replay", "127.0.0.1:8081", "", "application/json; charset=utf-8", "127.0.0.1:8081", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			req.Host = tt.host
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			local, err := net.ResolveTCPAddr("tcp", tt.local)
			if err != nil {
				t.Fatal(err)
			}
			req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, net.Addr(local)))
			rw := httptest.NewRecorder()
			h.ServeHTTP(rw, req)
			if rw.Code != tt.want {
				t.Errorf("%s %s (Host %q, Origin %q, Content-Type %q) = %d %s; want %d", tt.method, tt.path,
					tt.host, tt.origin, tt.contentType, rw.Code, rw.Body, tt.want)
			}
		})
	}
	if got := pending(t, s); got != 1 {
		t.Errorf("pending = %d; want 1 (only the CLI's replay went through)", got)
	}
}
