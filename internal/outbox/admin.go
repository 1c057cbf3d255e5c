package outbox

import (
	"encoding/json"
	"errors"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// AdminHandler serves the dead letters of s on the admin listener:
//
//	GET  /deadletters              JSON array of DeadLetter, in ID order
//	POST /deadletters/replay       replay all: {"replayed":N}
//	POST /deadletters/{id}/replay  replay one: {"replayed":1,"job":NEW_ID}; 404 when unknown
//
// Errors answer {"error":"..."}. w, when not nil, is woken after a replay.
//
// A browser on the same machine must not be able to use it (a cross-site form, or DNS rebinding): a request
// whose Host is not a loopback name or address, nor the address the connection came in on, is refused with
// 421 Misdirected Request; one whose Origin is present and not the listener's own is refused with 403; a
// replay (the only change) must be a POST with a JSON Content-Type, else 415.
func AdminHandler(s Store, w *Worker) http.Handler {
	return guardAdmin(adminMux(s, w))
}

// guardAdmin applies AdminHandler's Host, Origin and Content-Type rules before h.
func guardAdmin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !adminHostOK(r) {
			writeJSON(rw, http.StatusMisdirectedRequest, map[string]string{"error": "the admin listener answers only requests addressed to a loopback name or address, or to the address it listens on"})
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !strings.EqualFold(o, "http://"+r.Host) {
			writeJSON(rw, http.StatusForbidden, map[string]string{"error": "cross-origin requests to the admin listener are refused"})
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if r.Method != http.MethodPost {
				rw.Header().Set("Allow", "POST")
				writeJSON(rw, http.StatusMethodNotAllowed, map[string]string{"error": "method " + r.Method + " not allowed; use POST"})
				return
			}
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				writeJSON(rw, http.StatusUnsupportedMediaType, map[string]string{"error": "admin requests that change something must be sent with Content-Type: application/json"})
				return
			}
		}
		h.ServeHTTP(rw, r)
	})
}

// adminHostOK reports whether r's Host names this machine the way a local client does: localhost, a
// loopback address, or the very address the connection was accepted on. A DNS-rebound name is none of them.
func adminHostOK(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	if ip.Unmap().IsLoopback() {
		return true
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	lh, _, err := net.SplitHostPort(local.String())
	if err != nil {
		return false
	}
	lip, err := netip.ParseAddr(lh)
	return err == nil && lip.Unmap() == ip.Unmap()
}

func adminMux(s Store, w *Worker) http.Handler {
	mux := http.NewServeMux()
	wake := func() {
		if w != nil {
			w.Notify()
		}
	}
	mux.HandleFunc("GET /deadletters", func(rw http.ResponseWriter, r *http.Request) {
		list, err := s.DeadLetters(r.Context())
		if err != nil {
			writeJSON(rw, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(rw, http.StatusOK, list)
	})
	mux.HandleFunc("POST /deadletters/replay", func(rw http.ResponseWriter, r *http.Request) {
		n, err := s.ReplayAll(r.Context())
		if err != nil {
			writeJSON(rw, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		wake()
		writeJSON(rw, http.StatusOK, map[string]int{"replayed": n})
	})
	mux.HandleFunc("POST /deadletters/{id}/replay", func(rw http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
		if err != nil {
			writeJSON(rw, http.StatusBadRequest, map[string]string{"error": "dead letter id must be a positive number, as listed by GET /deadletters"})
			return
		}
		j, err := s.Replay(r.Context(), id)
		switch {
		case errors.Is(err, ErrNotFound):
			writeJSON(rw, http.StatusNotFound, map[string]string{"error": "no dead letter " + strconv.FormatUint(id, 10)})
			return
		case err != nil:
			writeJSON(rw, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		wake()
		writeJSON(rw, http.StatusOK, map[string]uint64{"replayed": 1, "job": j.ID})
	})
	return mux
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}
