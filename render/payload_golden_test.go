package render_test

import (
	"testing"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/notifier/discord"
	"github.com/activitybridge/activitybridge/notifier/slack"
	"github.com/activitybridge/activitybridge/render"
)

// TestPayloadGolden pins what users see: the exact Slack Block Kit and Discord webhook JSON for every sample
// activity in every set. A reviewer reads the diff of testdata/<set>/<fixture>.{slack,discord}.golden.json.
func TestPayloadGolden(t *testing.T) {
	r, err := render.New(render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []string{"default", "compact"} {
		for _, name := range fixture.Activities() {
			t.Run(set+"/"+name, func(t *testing.T) {
				a, err := activity.Decode(fixture.Bytes(name))
				if err != nil {
					t.Fatal(err)
				}
				msg, err := r.Render(a, set)
				if err != nil {
					t.Fatal(err)
				}
				goldenJSON(t, set+"/"+name+".slack.golden.json", slack.Build(msg))
				goldenJSON(t, set+"/"+name+".discord.golden.json", discord.Build(msg))
			})
		}
	}
}
