package app

import (
	"bytes"
	"context"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/internal/config"
	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/internal/route"
)

// The receiver reuses body buffers, so Accept must keep nothing that points into the body: overwriting
// the body after Accept returns leaves every queued message as it was.
func TestAcceptKeepsNothingOfTheBody(t *testing.T) {
	newMemoryApp := func() *App {
		table, err := route.Parse("*/* -> console")
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(&config.Config{Store: "memory", Table: table, MaxAge: time.Hour,
			PublicConsoleURL: "https://console.platform.sh"}, zerolog.Nop(), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, name := range fixture.Activities() {
		t.Run(name, func(t *testing.T) {
			scribbled, clean := newMemoryApp(), newMemoryApp()
			body := fixture.Bytes(name)
			if _, _, err := scribbled.Accept(context.Background(), body); err != nil {
				t.Fatal(err)
			}
			copy(body, bytes.Repeat([]byte{'x'}, len(body)))
			if _, _, err := clean.Accept(context.Background(), fixture.Bytes(name)); err != nil {
				t.Fatal(err)
			}
			got, err := pendingJobs(scribbled)
			if err != nil {
				t.Fatal(err)
			}
			want, err := pendingJobs(clean)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) || len(got) == 0 {
				t.Fatalf("queued %d and %d jobs; want the same, at least one", len(got), len(want))
			}
			for i := range got {
				if !reflect.DeepEqual(got[i].Msg, want[i].Msg) {
					t.Errorf("message after the body was overwritten:\n%+v\nwant\n%+v", got[i].Msg, want[i].Msg)
				}
			}
		})
	}
}
