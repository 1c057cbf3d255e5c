package render_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/notifier"
	"github.com/activitybridge/activitybridge/render"
)

var (
	defaultOnce     sync.Once
	defaultRenderer *render.Renderer
	defaultErr      error
)

// newDefault returns a Renderer of the embedded templates, loaded once for all tests.
func newDefault(t testing.TB) *render.Renderer {
	t.Helper()
	defaultOnce.Do(func() {
		defaultRenderer, defaultErr = render.New(render.Options{ConsoleURL: "https://console.example.com"})
	})
	if defaultErr != nil {
		t.Fatalf("New with the embedded templates: %v", defaultErr)
	}
	return defaultRenderer
}

func decode(t testing.TB, name string) *activity.Activity {
	t.Helper()
	a, err := activity.Decode(fixture.Bytes(name))
	if err != nil {
		t.Fatalf("decode fixture %s: %v", name, err)
	}
	return a
}

func TestSets(t *testing.T) {
	got := newDefault(t).Sets()
	want := []string{"compact", "default"}
	if !slices.Equal(got, want) {
		t.Errorf("Sets() = %q, want %q", got, want)
	}
}

// TestGolden renders every fixture with every set and compares the Message with
// testdata/<set>/<fixture>.message.golden.json.
func TestGolden(t *testing.T) {
	r := newDefault(t)
	for _, set := range r.Sets() {
		for _, name := range fixture.Activities() {
			t.Run(set+"/"+name, func(t *testing.T) {
				msg, err := r.Render(decode(t, name), set)
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				goldenJSON(t, set+"/"+name+".message.golden.json", msg)
			})
		}
	}
}

// TestGoldenNoStale fails when a message golden file has no fixture any more.
func TestGoldenNoStale(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	sets := newDefault(t).Sets()
	for _, f := range files {
		set := filepath.Base(filepath.Dir(f))
		name := filepath.Base(f)
		for _, kind := range []string{".message", ".slack", ".discord"} {
			name = strings.TrimSuffix(name, kind+".golden.json")
		}
		if !slices.Contains(sets, set) || !slices.Contains(fixture.Activities(), name) {
			t.Errorf("%s: no set %q or fixture %q renders it any more; delete it", f, set, name)
		}
	}
}

func TestRenderDefaultSetName(t *testing.T) {
	r := newDefault(t)
	a := decode(t, "environment.push")
	got, err := r.Render(a, "")
	if err != nil {
		t.Fatal(err)
	}
	want, err := r.Render(a, "default")
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != want.Title || len(got.Fields) != len(want.Fields) {
		t.Errorf(`Render(a, "") = %q with %d fields, want the default set's %q with %d fields`, got.Title, len(got.Fields), want.Title, len(want.Fields))
	}
}

func TestRenderUnknownSet(t *testing.T) {
	_, err := newDefault(t).Render(decode(t, "environment.push"), "loud")
	if err == nil || !strings.Contains(err.Error(), `"loud"`) || !strings.Contains(err.Error(), "compact, default") {
		t.Errorf(`Render with set "loud": err = %v, want an error naming the set and the sets there are`, err)
	}
}

// TestEveryFixture checks what every message of every fixture must have.
func TestEveryFixture(t *testing.T) {
	r := newDefault(t)
	for _, set := range r.Sets() {
		for _, name := range fixture.Activities() {
			t.Run(set+"/"+name, func(t *testing.T) {
				a := decode(t, name)
				msg, err := r.Render(a, set)
				if err != nil {
					t.Fatal(err)
				}
				if msg.Title == "" || msg.Text == "" {
					t.Errorf("title %q, text %q: want both non-empty", msg.Title, msg.Text)
				}
				if got, want := msg.Status, notifier.Status(a.Status()); got != want {
					t.Errorf("Status = %q, want %q", got, want)
				}
				if got, want := msg.Time, a.Time(); !got.Equal(want) {
					t.Errorf("Time = %v, want %v", got, want)
				}
				// The header names the project by its title when known, the footer then by its ID.
				if !strings.Contains(msg.Title, a.Project) && !(strings.Contains(msg.Title, a.ProjectTitle()) && strings.Contains(msg.Footer, a.Project)) {
					t.Errorf("title %q and footer %q do not name the project %q", msg.Title, msg.Footer, a.Project)
				}
				if env := a.EnvironmentName(); env != "" && !strings.Contains(msg.Title, env) {
					t.Errorf("title %q does not name the environment %q", msg.Title, env)
				}
				if !strings.Contains(msg.Footer, a.Type) {
					t.Errorf("footer %q does not name the type %q", msg.Footer, a.Type)
				}
				if i := slices.IndexFunc(msg.Links, func(l notifier.Link) bool { return l.Label == "View activity" }); i < 0 {
					t.Errorf("links %v: no View activity", msg.Links)
				} else if want := a.ConsoleURL("https://console.example.com"); msg.Links[i].URL != want {
					t.Errorf("View activity URL = %q, want %q", msg.Links[i].URL, want)
				}
				for _, f := range msg.Fields {
					if f.Name == "" || f.Value == "" {
						t.Errorf("field %+v: want name and value", f)
					}
				}
			})
		}
	}
}

// TestTitles pins the first line of the message for each status and some types.
func TestTitles(t *testing.T) {
	r := newDefault(t)
	tests := []struct {
		fixture, set, want string
	}{
		{"environment.push", "default", "main deployed · abcdefgh1234567"},
		{"push-failure", "default", "main deploy failed · abcdefgh1234567"},
		{"push-cancelled", "default", "main deploy cancelled · abcdefgh1234567"},
		{"push-in-progress", "default", "main deploying… · abcdefgh1234567"},
		{"push-pending", "compact", "main deploy pending · abcdefgh1234567"},
		{"environment.cron", "default", "cron saybye ran on main · php-test"},
		{"merge", "default", "feature-x merged into main · abcdefgh1234567"},
		{"variable-update", "compact", "variable env:API_URL updated on main · abcdefgh1234567"},
		{"domain-create", "default", "domain www.example.com added · abcdefgh1234567"},
		{"unknown-type", "default", "main environment.future_thing succeeded · abcdefgh1234567"},
	}
	for _, tt := range tests {
		t.Run(tt.set+"/"+tt.fixture, func(t *testing.T) {
			msg, err := r.Render(decode(t, tt.fixture), tt.set)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Title != tt.want {
				t.Errorf("Title = %q, want %q", msg.Title, tt.want)
			}
		})
	}
}

func field(msg notifier.Message, name string) (notifier.Field, bool) {
	i := slices.IndexFunc(msg.Fields, func(f notifier.Field) bool { return f.Name == name })
	if i < 0 {
		return notifier.Field{}, false
	}
	return msg.Fields[i], true
}

// TestLiveField: present whenever the deployment has upstream routes, kept, primary first with
// "(+N more)", never a redirect.
func TestLiveField(t *testing.T) {
	r := newDefault(t)
	for _, set := range r.Sets() {
		for _, name := range fixture.Activities() {
			t.Run(set+"/"+name, func(t *testing.T) {
				a := decode(t, name)
				msg, err := r.Render(a, set)
				if err != nil {
					t.Fatal(err)
				}
				var upstream, redirects []string
				if d := a.Payload.Deployment; d != nil {
					for _, rt := range d.Routes {
						if rt.Type == "upstream" {
							upstream = append(upstream, rt.URL)
						} else {
							redirects = append(redirects, rt.URL)
						}
					}
				}
				live, ok := field(msg, "Live")
				if len(upstream) == 0 {
					if ok {
						t.Errorf("Live field %+v without upstream routes", live)
					}
					return
				}
				if !ok {
					t.Fatalf("no Live field, want one for upstream routes %q", upstream)
				}
				primary := a.LiveURLs()[0]
				want := primary
				if n := len(upstream) - 1; n > 0 {
					want += fmt.Sprintf("  (+%d more)", n)
				}
				if live.Value != want || live.URL != primary || !live.Keep {
					t.Errorf("Live = %+v, want value %q, URL %q, Keep", live, want, primary)
				}
				for _, tok := range append(strings.Fields(live.Value), live.URL) {
					if slices.Contains(redirects, tok) {
						t.Errorf("Live field lists the redirect %q", tok)
					}
				}
				for _, l := range msg.Links {
					if slices.Contains(redirects, l.URL) {
						t.Errorf("link %+v points at a redirect", l)
					}
				}
			})
		}
	}
}

func TestCommitList(t *testing.T) {
	r := newDefault(t)
	tests := []struct {
		fixture, set string
		wantItems    int // 0: no list
		wantMore     int
		wantFirst    string
	}{
		{"environment.push", "default", 0, 0, ""}, // one commit, the head: the Commit field shows it
		{"push-big", "default", 5, 35, ""},
		{"push-hostile", "default", 3, 0, ""},
		{"redeploy", "default", 0, 0, ""},
		{"push-big", "compact", 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.set+"/"+tt.fixture, func(t *testing.T) {
			msg, err := r.Render(decode(t, tt.fixture), tt.set)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantItems == 0 {
				if msg.List != nil {
					t.Errorf("List = %+v, want none", msg.List)
				}
				return
			}
			if msg.List == nil {
				t.Fatalf("no List, want %d items", tt.wantItems)
			}
			if len(msg.List.Items) != tt.wantItems || msg.List.More != tt.wantMore || msg.List.Name != "Commits" {
				t.Errorf("List = %q with %d items, more %d; want Commits with %d items, more %d", msg.List.Name, len(msg.List.Items), msg.List.More, tt.wantItems, tt.wantMore)
			}
			if tt.wantFirst != "" && msg.List.Items[0] != tt.wantFirst {
				t.Errorf("first item = %q, want %q", msg.List.Items[0], tt.wantFirst)
			}
		})
	}
}

func TestFailedField(t *testing.T) {
	msg, err := newDefault(t).Render(decode(t, "push-failure"), "default")
	if err != nil {
		t.Fatal(err)
	}
	got, ok := field(msg, "Failed")
	if want := "app: deploy exited with code 2"; !ok || got.Value != want {
		t.Errorf("Failed field = %+v (present %v), want value %q", got, ok, want)
	}
	names := make([]string, len(msg.Fields))
	for i, f := range msg.Fields {
		names[i] = f.Name
	}
	if want := []string{"Commit", "Live", "Failed"}; !slices.Equal(names, want) {
		t.Errorf("field names = %q, want %q", names, want)
	}
}

// TestNoSecrets: values the body carries in deployment variables or basic auth never reach a message.
func TestNoSecrets(t *testing.T) {
	r := newDefault(t)
	for _, set := range r.Sets() {
		msg, err := r.Render(decode(t, "push-secrets"), set)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(msg)
		for _, secret := range []string{"SECRET-VAR-VALUE-1234", "SECRET-BASIC-AUTH-PW"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("set %s: the message carries %q", set, secret)
			}
		}
	}
}

// TestHostileStaysInItsPlace: hostile text changes values, never the shape of the message.
func TestHostileStaysInItsPlace(t *testing.T) {
	r := newDefault(t)
	for _, set := range r.Sets() {
		hostile, err := r.Render(decode(t, "push-hostile"), set)
		if err != nil {
			t.Fatal(err)
		}
		// The same push with harmless text (environment.push would not do: it has one commit, no list).
		plainAct := decode(t, "push-hostile")
		plainAct.Text, plainAct.Description, plainAct.Payload.User.DisplayName = "Cloé Weber pushed to main", "", "Cloé Weber"
		for i := range plainAct.Payload.Commits {
			plainAct.Payload.Commits[i].Message, plainAct.Payload.Commits[i].Author.Name = "Fix the cart", "Cloé Weber"
		}
		plain, err := r.Render(plainAct, set)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := shape(hostile), shape(plain); got != want {
			t.Errorf("set %s: hostile message shape %s, want %s", set, got, want)
		}
	}
}

// shape describes a message by its field names, link labels and list name.
func shape(m notifier.Message) string {
	var b strings.Builder
	for _, f := range m.Fields {
		fmt.Fprintf(&b, "field %q keep=%v; ", f.Name, f.Keep)
	}
	for _, l := range m.Links {
		fmt.Fprintf(&b, "link %q; ", l.Label)
	}
	if m.List != nil {
		fmt.Fprintf(&b, "list %q", m.List.Name)
	}
	return b.String()
}

func BenchmarkRender(b *testing.B) {
	r := newDefault(b)
	a := decode(b, "push-big")
	for b.Loop() {
		if _, err := r.Render(a, "default"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := render.New(render.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRenderConcurrent: one Renderer serves many goroutines (run with -race).
func TestRenderConcurrent(t *testing.T) {
	r := newDefault(t)
	a := decode(t, "push-failure")
	want, err := r.Render(a, "default")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			for _, set := range []string{"default", "compact", "default"} {
				got, err := r.Render(a, set)
				if err != nil {
					errs <- err.Error()
					return
				}
				if set == "default" && got.Title != want.Title {
					errs <- "title " + got.Title
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestTitleStates: states that are not running or finished say what they are.
func TestTitleStates(t *testing.T) {
	r := newDefault(t)
	tests := []struct{ state, want string }{
		{"pending", "main deploy pending · abcdefgh1234567"},
		{"staged", "main deploy staged · abcdefgh1234567"},
		{"scheduled", "main deploy scheduled · abcdefgh1234567"},
		{"in_progress", "main deploying… · abcdefgh1234567"},
	}
	for _, tt := range tests {
		t.Run(tt.state, func(t *testing.T) {
			var body map[string]any
			if err := json.Unmarshal(fixture.Bytes("push-pending"), &body); err != nil {
				t.Fatal(err)
			}
			body["state"] = tt.state
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			a, err := activity.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := r.Render(a, "default")
			if err != nil {
				t.Fatal(err)
			}
			if msg.Title != tt.want {
				t.Errorf("Title = %q, want %q", msg.Title, tt.want)
			}
		})
	}
}

// activity.Status and notifier.Status are kept apart (the model does not import the chat contract) and
// converted by value: every status an activity can have must be one the chat side knows.
func TestActivityStatusesAreNotifierStatuses(t *testing.T) {
	known := map[notifier.Status]bool{notifier.StatusSuccess: true, notifier.StatusFailure: true,
		notifier.StatusCancelled: true, notifier.StatusRunning: true, notifier.StatusPending: true}
	for _, s := range []activity.Status{activity.StatusSuccess, activity.StatusFailure, activity.StatusCancelled,
		activity.StatusRunning, activity.StatusPending} {
		if !known[notifier.Status(s)] {
			t.Errorf("activity status %q is not a notifier status", s)
		}
	}
	for _, name := range fixture.Activities() {
		a, err := activity.Decode(fixture.Bytes(name))
		if err != nil {
			t.Fatal(err)
		}
		if s := a.Status(); !known[notifier.Status(s)] {
			t.Errorf("%s: status %q is not a notifier status", name, s)
		}
	}
}
