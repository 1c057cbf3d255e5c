package jws_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/activitybridge/activitybridge/internal/jws"
	"github.com/activitybridge/activitybridge/internal/receiver"
)

func TestSignIsAcceptedByTheReceiver(t *testing.T) {
	body := []byte(`{"id":"a","type":"environment.push","project":"p"}`)
	for _, key := range []string{"change-me", "dGhlIGtleQ", "x+y/z==", strings.Repeat("k", 100)} {
		sig := jws.Sign(body, key)
		if !strings.HasPrefix(sig, jws.HeaderSegment+"..") {
			t.Errorf("Sign() = %q, want a detached JWS", sig)
		}
		if _, err := receiver.Verify(body, sig, key); err != nil {
			t.Errorf("key %q: Verify(Sign()) = %v", key, err)
		}
		if _, err := receiver.Verify(append(body, ' '), sig, key); err == nil {
			t.Errorf("key %q: a changed body still verifies", key)
		}
	}
}

func TestHeaderSegment(t *testing.T) {
	if got, want := jws.HeaderSegment, base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","b64":false,"crit":["b64"]}`)); got != want {
		t.Errorf("HeaderSegment = %q, want %q", got, want)
	}
}
