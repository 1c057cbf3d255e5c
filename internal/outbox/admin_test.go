package outbox

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func httpDo(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rw := httptest.NewRecorder()
	h.ServeHTTP(rw, httptest.NewRequest(method, path, nil))
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
