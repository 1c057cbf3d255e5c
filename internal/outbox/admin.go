package outbox

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// AdminHandler serves the dead letters of s on the admin listener:
//
//	GET  /deadletters              JSON array of DeadLetter, in ID order
//	POST /deadletters/replay       replay all: {"replayed":N}
//	POST /deadletters/{id}/replay  replay one: {"replayed":1,"job":NEW_ID}; 404 when unknown
//
// Errors answer {"error":"..."}. w, when not nil, is woken after a replay.
func AdminHandler(s Store, w *Worker) http.Handler {
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
