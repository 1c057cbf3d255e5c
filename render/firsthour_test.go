package render_test

import (
	"strings"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/render"
)

// TestNoFactTwice: a one-commit push shows its commit once (the Commit field, no Commits list), the Live
// field is not repeated by an Open site link, and a sub-second activity reads "in under 1 s".
func TestNoFactTwice(t *testing.T) {
	r := newDefault(t)
	a := decode(t, "environment.push")
	a.CompletedAt = a.StartedAt.Add(400 * time.Millisecond)
	msg, err := r.Render(a, "default")
	if err != nil {
		t.Fatal(err)
	}
	if msg.Text != "Cloé Weber pushed 1 commit to main in under 1 s" {
		t.Errorf("Text = %q", msg.Text)
	}
	if msg.List != nil {
		t.Errorf("List = %+v, want none: the Commit field shows the one commit", msg.List)
	}
	var live string
	for _, f := range msg.Fields {
		if f.Name == "Live" {
			live = f.URL
		}
		if f.Name == "Commit" && f.Value != "2bab04e Add cron" {
			t.Errorf("Commit field = %q", f.Value)
		}
	}
	if live == "" {
		t.Fatal("no Live field")
	}
	for _, l := range msg.Links {
		if l.URL == live {
			t.Errorf("link %q repeats the Live field's %s", l.Label, live)
		}
	}

	// Several commits: the list is kept.
	msg, err = r.Render(decode(t, "push-big"), "default")
	if err != nil || msg.List == nil || len(msg.List.Items) == 0 {
		t.Errorf("push-big: list %+v, err %v; want the commits", msg.List, err)
	}
}

// TestConsoleLinkFollowsThePlatform: with the default console, an Upsun body links to the Upsun console.
func TestConsoleLinkFollowsThePlatform(t *testing.T) {
	a, err := activity.Decode([]byte(`{"id":"a2","type":"environment.push","project":"p2","environments":["main"],"state":"complete","result":"success",
		"payload":{"deployment":{"routes":{"https://main-bvxea6i-p2.eu-5.upsunapp.com/":{"type":"upstream","primary":true}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := newPlatformRenderer(t).Render(a, "default")
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Links) == 0 || !strings.HasPrefix(msg.Links[0].URL, "https://console.upsun.com/projects/p2/main/log/a2") {
		t.Errorf("links = %+v, want View activity on console.upsun.com", msg.Links)
	}
}

func newPlatformRenderer(t *testing.T) *render.Renderer {
	t.Helper()
	r, err := render.New(render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
