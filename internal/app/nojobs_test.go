package app

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/internal/config"
	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/internal/receiver"
	"github.com/activitybridge/activitybridge/internal/route"
)

// TestAcceptSaysWhyNothingWasQueued: a repeat and an activity no rule matches both queue nothing, and the
// receiver is told which (it answers "reason":"duplicate" or "unmatched").
func TestAcceptSaysWhyNothingWasQueued(t *testing.T) {
	table, err := route.Parse("*/main -> console")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(&config.Config{Store: "memory", Table: table, MaxAge: time.Hour}, zerolog.Nop(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if id, n, err := a.Accept(ctx, fixture.Bytes("environment.push")); err != nil || n != 1 || id == "" {
		t.Fatalf("first post: %q, %d, %v; want one job", id, n, err)
	}
	if id, n, err := a.Accept(ctx, fixture.Bytes("environment.push")); !errors.Is(err, receiver.ErrDuplicate) || n != 0 || id == "" {
		t.Errorf("second post: %q, %d, %v; want the id, 0 and ErrDuplicate", id, n, err)
	}
	if id, n, err := a.Accept(ctx, fixture.Bytes("branch")); !errors.Is(err, receiver.ErrUnmatched) || n != 0 || id == "" {
		t.Errorf("unrouted: %q, %d, %v; want the id, 0 and ErrUnmatched", id, n, err)
	}
}

// TestAcceptOlderPayloadsAreProduction: the 2017 push has no environment type; its main environment counts
// as production, so an envtypes=production rule takes it.
func TestAcceptOlderPayloadsAreProduction(t *testing.T) {
	table, err := route.Parse("*/* envtypes=production -> console")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(&config.Config{Store: "memory", Table: table, MaxAge: time.Hour}, zerolog.Nop(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, n, err := a.Accept(context.Background(), fixture.Bytes("environment.push-2017")); err != nil || n != 1 {
		t.Errorf("2017 push: queued %d, %v; want 1", n, err)
	}
}

// TestAcceptNamesACompressedBody: a gzip body is a 400 that says so.
func TestAcceptNamesACompressedBody(t *testing.T) {
	a, err := New(&config.Config{Store: "memory", Table: &route.Table{Default: true}, MaxAge: time.Hour}, zerolog.Nop(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = a.Accept(context.Background(), []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0})
	if !errors.Is(err, receiver.ErrBadRequest) || !strings.Contains(err.Error(), "gzip-compressed; send plain JSON") {
		t.Errorf("Accept(gzip) = %v, want a bad request naming gzip", err)
	}
}
