package render_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/notifier"
	"github.com/activitybridge/activitybridge/notifier/discord"
	"github.com/activitybridge/activitybridge/notifier/slack"
	"github.com/activitybridge/activitybridge/render"
)

const shopRepo = "https://github.com/acme/shop"

func newConfigured(t testing.TB, repo string) *render.Renderer {
	t.Helper()
	rp, err := render.ParseRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	r, err := render.New(render.Options{
		ProjectNames: map[string]string{"abcdefgh1234567": "My Shop"},
		Repositories: map[string]render.Repository{"abcdefgh1234567": rp},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPayloadGoldenConfigured pins what users see with BRIDGE_PROJECT_NAMES and BRIDGE_REPOSITORIES
// set: the project's title in the header and its ID in the footer, the head commit and each listed
// commit linked, and a Compare link for a push of several commits; for every set and the samples that
// have commits.
func TestPayloadGoldenConfigured(t *testing.T) {
	r := newConfigured(t, shopRepo)
	for _, set := range r.Sets() {
		for _, name := range []string{"environment.push", "push-big", "push-failure", "push-hostile", "merge", "environment.cron", "redeploy"} {
			t.Run(set+"/"+name, func(t *testing.T) {
				a, err := activity.Decode(fixture.Bytes(name))
				if err != nil {
					t.Fatal(err)
				}
				msg, err := r.Render(a, set)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(msg.Title, "My Shop") || strings.Contains(msg.Title, "abcdefgh1234567") || !strings.Contains(msg.Footer, "abcdefgh1234567") {
					t.Errorf("title %q, footer %q: want the name in the title, the ID in the footer", msg.Title, msg.Footer)
				}
				base := set + "/configured/" + name
				goldenJSON(t, base+".message.golden.json", msg)
				goldenJSON(t, base+".slack.golden.json", slack.Build(msg))
				goldenJSON(t, base+".discord.golden.json", discord.Build(msg))
			})
		}
	}
}

func TestCommitAndCompareLinks(t *testing.T) {
	r := newConfigured(t, shopRepo)
	msg, err := r.Render(decodeFixture(t, "push-big"), "default")
	if err != nil {
		t.Fatal(err)
	}
	head := fieldNamed(msg, "Commit")
	if head.URL != shopRepo+"/commit/00000000000000000000000000000000b16b00b5" {
		t.Errorf("Commit field URL = %q", head.URL)
	}
	if msg.List == nil || len(msg.List.URLs) != len(msg.List.Items) || msg.List.URLs[1] != shopRepo+"/commit/0000000000000000000000000000000162d6016a" {
		t.Errorf("list URLs = %v", msg.List)
	}
	if got := link(msg, "Compare"); got != shopRepo+"/compare/0000000000000000000000000000001c6a231cfd...00000000000000000000000000000000b16b00b5" {
		t.Errorf("Compare link = %q", got)
	}
	// A push of one commit has nothing to compare.
	one, err := r.Render(decodeFixture(t, "environment.push"), "default")
	if err != nil {
		t.Fatal(err)
	}
	if got := link(one, "Compare"); got != "" {
		t.Errorf("push of one commit: Compare link %q", got)
	}
}

// A commit "SHA" that is not hex never becomes a link, whatever the repository: no payload text is
// ever part of a URL.
func TestNonHexSHANeverLinks(t *testing.T) {
	var body map[string]any
	if err := json.Unmarshal(fixture.Bytes("push-big"), &body); err != nil {
		t.Fatal(err)
	}
	bad := []string{"../../evil", "2bab04e) [x](https://evil.example", "javascript:alert(1)", "zzzzzzzzzz", "2bab04e?x=1", "2bab04e 050279"}
	params := body["parameters"].(map[string]any)
	params["new_commit"], params["old_commit"] = bad[0], bad[1]
	payload := body["payload"].(map[string]any)
	commits := payload["commits"].([]any)
	for i, c := range commits {
		c.(map[string]any)["sha"] = bad[i%len(bad)]
	}
	commits[0].(map[string]any)["sha"] = bad[0]
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	a, err := activity.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{shopRepo, "gitlab:https://git.example.com/acme/shop", "https://git.example.com/c/{sha}|https://git.example.com/d/{from}..{to}"} {
		r := newConfigured(t, repo)
		for _, set := range r.Sets() {
			msg, err := r.Render(a, set)
			if err != nil {
				t.Fatal(err)
			}
			if f := fieldNamed(msg, "Commit"); f.URL != "" {
				t.Errorf("%s %s: Commit links to %q", repo, set, f.URL)
			}
			if msg.List != nil && msg.List.URLs != nil {
				t.Errorf("%s %s: list URLs %v", repo, set, msg.List.URLs)
			}
			if got := link(msg, "Compare"); got != "" {
				t.Errorf("%s %s: Compare links to %q", repo, set, got)
			}
			for _, p := range []any{slack.Build(msg), discord.Build(msg)} {
				out, _ := json.Marshal(p)
				for _, host := range []string{"github.com", "git.example.com", "evil.example\""} {
					if strings.Contains(string(out), host) {
						t.Errorf("%s %s: payload links to %s: %s", repo, set, host, out)
					}
				}
			}
		}
	}
}

func TestParseRepository(t *testing.T) {
	const sha, from = "2bab04e050279ac078d5d34016f5dd9c466e948d", "6aac318907b50252976c47e4e62ed95d438af0ea"
	tests := []struct {
		spec, commit, compare string
	}{
		{"https://github.com/acme/shop", "https://github.com/acme/shop/commit/" + sha, "https://github.com/acme/shop/compare/" + from + "..." + sha},
		{"https://github.com/acme/shop.git/", "https://github.com/acme/shop/commit/" + sha, "https://github.com/acme/shop/compare/" + from + "..." + sha},
		{"https://gitlab.com/acme/group/shop", "https://gitlab.com/acme/group/shop/-/commit/" + sha, "https://gitlab.com/acme/group/shop/-/compare/" + from + "..." + sha},
		{"https://gitlab.example.com/acme/shop", "https://gitlab.example.com/acme/shop/-/commit/" + sha, "https://gitlab.example.com/acme/shop/-/compare/" + from + "..." + sha},
		{"gitlab:https://git.example.com/acme/shop", "https://git.example.com/acme/shop/-/commit/" + sha, "https://git.example.com/acme/shop/-/compare/" + from + "..." + sha},
		{"https://bitbucket.org/acme/shop", "https://bitbucket.org/acme/shop/commits/" + sha, "https://bitbucket.org/acme/shop/branches/compare/" + sha + "%0D" + from + "#diff"},
		{"https://codeberg.org/acme/shop", "https://codeberg.org/acme/shop/commit/" + sha, "https://codeberg.org/acme/shop/compare/" + from + "..." + sha},
		{"forgejo:https://code.example.com/acme/shop", "https://code.example.com/acme/shop/commit/" + sha, "https://code.example.com/acme/shop/compare/" + from + "..." + sha},
		{"https://cgit.example.com/shop/commit/?id={sha}", "https://cgit.example.com/shop/commit/?id=" + sha, ""},
		{"https://x.example.com/c/{sha}|https://x.example.com/d/{from}..{to}", "https://x.example.com/c/" + sha, "https://x.example.com/d/" + from + ".." + sha},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			r, err := render.ParseRepository(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.CommitURL(strings.ToUpper(sha)); got != tt.commit {
				t.Errorf("CommitURL = %q, want %q", got, tt.commit)
			}
			if got := r.CompareURL(from, sha); got != tt.compare {
				t.Errorf("CompareURL = %q, want %q", got, tt.compare)
			}
		})
	}
	for _, bad := range []string{"", "github.com/acme/shop", "https://git.example.com/acme/shop", "svn:https://x.example.com/r",
		"https://github.com/", "https://github.com/acme/shop?x=1", "https://x.example.com/c/{commit}", "ftp://x.example.com/{sha}",
		"https://x.example.com/c/{sha}|https://x.example.com/d/{from}", "https://x.example.com/<{sha}>"} {
		if _, err := render.ParseRepository(bad); err == nil || !strings.Contains(err.Error(), "https://github.com/acme/shop") {
			t.Errorf("ParseRepository(%q) error = %v, want one that shows a good value", bad, err)
		}
	}
}

func decodeFixture(t *testing.T, name string) *activity.Activity {
	t.Helper()
	a, err := activity.Decode(fixture.Bytes(name))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func fieldNamed(msg notifier.Message, name string) notifier.Field {
	for _, f := range msg.Fields {
		if f.Name == name {
			return f
		}
	}
	return notifier.Field{}
}

func link(msg notifier.Message, label string) string {
	for _, l := range msg.Links {
		if l.Label == label {
			return l.URL
		}
	}
	return ""
}
