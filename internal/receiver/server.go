package receiver

import (
	"net/http"
	"time"
)

// Server timeouts. Platform.sh posts from its own network, so even a 32 MiB body arrives well within
// ReadTimeout; a client that stalls mid-body is cut off there and frees its body slot. WriteTimeout runs from
// the end of the request headers, so it covers reading the body and persisting the jobs as well.
const (
	// ReadHeaderTimeout bounds reading the request line and headers.
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds reading the whole request, body included.
	ReadTimeout = 30 * time.Second
	// WriteTimeout bounds the time from the end of the headers to the end of the answer.
	WriteTimeout = 60 * time.Second
	// IdleTimeout closes keep-alive connections left idle this long.
	IdleTimeout = 120 * time.Second
	// MaxHeaderBytes caps the request headers (the signature header is under 200 bytes).
	MaxHeaderBytes = 64 << 10
)

// NewServer returns an http.Server for h on addr with every timeout and the header size limit set, so that
// slow or stalled clients cannot hold connections open. The caller runs ListenAndServe and Shutdown.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}
