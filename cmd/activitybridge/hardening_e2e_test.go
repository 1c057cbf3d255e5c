package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/activitybridge/activitybridge/internal/fixture"
	"github.com/activitybridge/activitybridge/notifier/notifiertest"
)

// vmHWM reads the peak resident set size of a process from /proc (Linux only), in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// filler is the body bytes every staller sends, shared so that the test itself stays small.
var filler = []byte(strings.Repeat("x", 2<<20))

// stall opens a connection that sends a signed webhook's headers with a large Content-Length and the
// first sent bytes of the body (from a goroutine: a server that does not read blocks the write), then
// goes quiet.
func stall(t *testing.T, addr string, declared, sent int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	head := fmt.Sprintf("POST /webhook HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nX-JWS-Signature: %s\r\n\r\n{\"log\":\"",
		addr, declared, sign([]byte("whatever"), sharedKey))
	go func() { // write errors only mean the server cut us off
		if _, err := io.WriteString(c, head); err == nil {
			_, _ = c.Write(filler[:sent])
		}
	}()
	return c
}

// TestFloodOfStalledClients opens 200 connections that each declare a 16 MiB body, send 64 KiB of it and
// stall, and 50 that stall in their headers: normal deliveries are still accepted at once. Then 100 more
// each send 2 MiB and stall (200 MiB, more than the receiver's 128 MiB budget for bodies in flight): memory
// stays bounded (the excess is refused with 503, not buffered), and once the stalled bodies are cut off
// (10 s without a byte) deliveries are accepted again.
func TestFloodOfStalledClients(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 350 connections and waits for the idle cut-off")
	}
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	env := chatEnv(s, d, "*/* -> slack:#deploys")
	env["BRIDGE_LOG_LEVEL"] = "warn"
	b := startBinary(t, plainBin, env) // without -race, whose shadow memory would swamp what is measured
	addr := strings.TrimPrefix(b.url, "http://")
	before := vmHWM(t, b.cmd.Process.Pid)

	const declared = 16 << 20 // under the 32 MiB default cap, so each one is admitted to read its body
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range 200 {
		conns = append(conns, stall(t, addr, declared, 64<<10))
	}
	for range 50 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /webhook HTTP/1.1\r\nHost: %s\r\nContent-Le", addr)
		conns = append(conns, c)
	}
	time.Sleep(time.Second) // let the server take every staller in (not a timing goal)

	deliver := func(phase string, n int) {
		t.Helper()
		for i := range n {
			body := variant(t, "environment.push", map[string]any{"id": fmt.Sprintf("%s%d", phase, i)})
			if code, ans := b.post("", body, sharedKey); code != http.StatusAccepted {
				t.Fatalf("%s delivery %d: got %d %s, want 202", phase, i, code, ans)
			}
		}
	}
	deliver("stalled", 5)

	for range 100 {
		conns = append(conns, stall(t, addr, declared, len(filler)))
	}
	time.Sleep(2 * time.Second) // let them send what they send (not a timing goal)
	if got := vmHWM(t, b.cmd.Process.Pid); got > before+192<<20 {
		t.Errorf("peak RSS grew from %d to %d MiB while 200 MiB of bodies stalled, want under +192 MiB", before>>20, got>>20)
	} else {
		t.Logf("peak RSS %d MiB before, %d MiB after the flood", before>>20, got>>20)
	}
	// Every staller is answered and disconnected by the server: 503 at once when no memory was free, 408
	// once its body has been idle for 10 s, or dropped at the header timeout. Then nothing is held.
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
			_, _ = io.Copy(io.Discard, c)
		})
	}
	wg.Wait()
	deliver("after", 5)
	waitFor(t, 60*time.Second, "the deliveries in #deploys", func() bool {
		return len(s.Messages("#deploys")) >= 10
	})
}

// closedURL returns a URL on 127.0.0.1 where nothing listens.
func closedURL(t *testing.T, path string) string {
	t.Helper()
	return "http://" + freeAddr(t) + path
}

func getURL(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}

// TestSecretsNeverLeak runs the binary at debug level through success, retries (500, then 429 with
// Retry-After on both services) and permanent failures (Slack channel_not_found, Discord 10015 Unknown
// Webhook, a refused connection), and then looks for every credential and the payload's secrets in its
// output, its metrics, its dead letters and the chat messages.
func TestSecretsNeverLeak(t *testing.T) {
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	routes := strings.Join([]string{
		"*/main -> slack:#deploys, discord:prod, slack-webhook:previews, discord-channel:123456789012345678",
		"*/retry-* -> slack:#deploys",
		"*/dretry-* -> discord:prod",
		"*/gone -> slack:#deploys",
		"*/dgone -> discord:prod",
		"*/closed -> slack-webhook:closed",
	}, "\n")
	env := chatEnv(s, d, routes)
	env["BRIDGE_SLACK_WEBHOOKS"] += ",closed=" + closedURL(t, "/services/T0CLOSED/B0CLOSED/closedhooksecrettoken1234")
	env["BRIDGE_MAX_AGE"] = "5s"
	b := startBridge(t, env)

	post := func(name, id, environment string) {
		t.Helper()
		body := variant(t, name, map[string]any{"id": id, "environment": environment})
		if code, ans := b.post("", body, sharedKey); code != http.StatusAccepted {
			t.Fatalf("%s: got %d %s, want 202", id, code, ans)
		}
	}
	slackCount := func(ch string) func() bool {
		n := len(s.Messages(ch))
		return func() bool { return len(s.Messages(ch)) > n }
	}
	discordCount := func(target string) func() bool {
		n := len(d.Messages(target))
		return func() bool { return len(d.Messages(target)) > n }
	}

	// Success on all four kinds, with the body that carries a variable value and a basic-auth password.
	post("push-secrets", "secrets1", "main")
	waitFor(t, 30*time.Second, "the push on all four destinations", func() bool {
		return len(s.Messages("#deploys")) == 1 && len(s.Messages("previews")) == 1 &&
			len(d.Messages("prod")) == 1 && len(d.Messages("123456789012345678")) == 1
	})
	// Retries: a 500 then success, a 429 with Retry-After then success, on each service.
	for i, f := range []notifiertest.Failure{{Status: 500}, {RetryAfter: time.Second}} {
		more := slackCount("#deploys")
		s.FailNext(1, f)
		post("push-secrets", fmt.Sprintf("retry%d", i), fmt.Sprintf("retry-%d", i))
		waitFor(t, 30*time.Second, fmt.Sprintf("Slack retry %d", i), more)
		moreD := discordCount("prod")
		d.FailNext(1, f)
		post("push-secrets", fmt.Sprintf("dretry%d", i), fmt.Sprintf("dretry-%d", i))
		waitFor(t, 30*time.Second, fmt.Sprintf("Discord retry %d", i), moreD)
	}
	// Permanent failures and a refused connection: three dead letters.
	s.FailNext(1, notifiertest.Failure{SlackError: "channel_not_found"})
	post("push-secrets", "gone1", "gone")
	d.FailNext(1, notifiertest.Failure{Status: 404, Code: 10015, Message: "Unknown Webhook"})
	post("push-secrets", "dgone1", "dgone")
	post("push-secrets", "closed1", "closed")
	var dead string
	waitFor(t, 60*time.Second, "three dead letters", func() bool {
		dead = getURL(t, "http://"+b.admin+"/deadletters")
		var list []json.RawMessage
		return json.Unmarshal([]byte(dead), &list) == nil && len(list) == 3
	})
	var letters []struct {
		Job    struct{ Activity, Dest string }
		Reason string
	}
	if err := json.Unmarshal([]byte(dead), &letters); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, l := range letters {
		reasons[l.Job.Activity] = l.Reason
	}
	for _, id := range []string{"gone1", "dgone1", "closed1"} {
		if reasons[id] == "" {
			t.Errorf("dead letter of %s missing or without a reason: %s", id, dead)
		}
	}
	t.Logf("dead letter reasons: %q", reasons)
	_, metrics := b.get("/metrics")
	if code := b.stop(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}

	var chat strings.Builder
	for _, ch := range []string{"#deploys", "previews"} {
		for _, m := range s.Messages(ch) {
			fmt.Fprintf(&chat, "%s\n%s\n", m.Text, m.Blocks)
		}
	}
	for _, target := range []string{"prod", "123456789012345678"} {
		for _, m := range d.Messages(target) {
			fmt.Fprintf(&chat, "%s\n", m.Content)
			for _, e := range m.Embeds {
				fmt.Fprintf(&chat, "%s\n", e)
			}
		}
	}
	out := b.stdout.String() + b.stderr.String()
	if !strings.Contains(out, `"level":"debug"`) {
		t.Error("no debug lines in the output: the test would not see what debug logging leaks")
	}
	for _, tt := range []struct{ name, text string }{
		{"stdout and stderr", out},
		{"/metrics", metrics},
		{"/deadletters", dead},
		{"chat messages", chat.String()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.text == "" {
				t.Fatal("nothing to check")
			}
			assertNoSecrets(t, tt.text, b.env)
			// The closed hook's token, also on its own and as written in JSON.
			for _, sec := range []string{"closedhooksecrettoken1234", url.PathEscape("closedhooksecrettoken1234")} {
				if strings.Contains(tt.text, sec) {
					t.Errorf("the closed webhook's token appears in %s", tt.name)
				}
			}
		})
	}
}

// slackMrkdwn returns the fallback text and every mrkdwn text of a Slack message: the parts in which
// Slack turns <…> into mentions and links. plain_text (header, buttons) shows <…> literally.
func slackMrkdwn(t *testing.T, m notifiertest.SlackMessage) []string {
	t.Helper()
	texts, err := notifiertest.SlackMrkdwnTexts(m.Blocks)
	if err != nil {
		t.Fatalf("blocks %s: %v", m.Blocks, err)
	}
	return append([]string{m.Text}, texts...)
}

var (
	// slackMarkup finds what Slack parses in mrkdwn: <!…>, <@…>, <#…> and <scheme:…> links.
	slackMarkup = regexp.MustCompile(`<([!@#][^>]*|[a-zA-Z][a-zA-Z0-9+.-]*:[^>|]*)`)
	// discordMasked finds [label](target) masked links not escaped with a backslash.
	discordMasked = regexp.MustCompile(`(^|[^\\])\[[^\]]*\]\(\s*<?([^)\s>]*)`)
)

// TestHostileTextIsInert posts the push-hostile fixture (mentions, forged links and markup in the commit
// messages, branch, user names and description) first as in_progress, then as complete, so each
// editable destination gets a post and an edit, and checks what reached the fakes: no Slack mention or
// link built from that text, and Discord with allowed_mentions parse [] on post and edit and no masked
// link to evil.example.
func TestHostileTextIsInert(t *testing.T) {
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	b := startBridge(t, chatEnv(s, d, "*/* -> slack:#deploys, slack-webhook:previews, discord:prod, discord-channel:123456789012345678"))
	running := variant(t, "push-hostile", map[string]any{"state": "in_progress", "result": nil, "completed_at": nil})
	if code, ans := b.post("", running, sharedKey); code != http.StatusAccepted {
		t.Fatalf("in_progress: got %d %s, want 202", code, ans)
	}
	waitFor(t, 30*time.Second, "the running notice everywhere", func() bool {
		return len(s.Messages("#deploys")) == 1 && len(s.Messages("previews")) == 1 &&
			len(d.Messages("prod")) == 1 && len(d.Messages("123456789012345678")) == 1
	})
	if code, ans := b.post("", fixture.Bytes("push-hostile"), sharedKey); code != http.StatusAccepted {
		t.Fatalf("complete: got %d %s, want 202", code, ans)
	}
	waitFor(t, 30*time.Second, "the edits (and the second incoming-webhook post)", func() bool {
		return len(s.Messages("previews")) == 2 && len(s.Messages("#deploys")) == 1 && s.Messages("#deploys")[0].Edits == 1 &&
			d.Messages("prod")[0].Edits == 1 && d.Messages("123456789012345678")[0].Edits == 1
	})

	trusted := map[string]bool{"console.platform.sh": true}
	for _, ch := range []string{"#deploys", "previews"} {
		for i, m := range s.Messages(ch) {
			if m.Parse == "full" {
				t.Errorf("Slack %s message %d sent parse=full", ch, i)
			}
			for _, text := range slackMrkdwn(t, m) {
				for _, mk := range slackMarkup.FindAllStringSubmatch(text, -1) {
					target := mk[1]
					if u, err := url.Parse(target); err == nil && (u.Scheme == "https" || u.Scheme == "http") &&
						(trusted[u.Host] || strings.HasSuffix(u.Host, ".platformsh.site")) {
						continue // a link the bridge built: the console or a live URL
					}
					t.Errorf("Slack %s message %d: live markup <%s in %.300q", ch, i, target, text)
				}
			}
		}
	}
	for _, target := range []string{"prod", "123456789012345678"} {
		for i, m := range d.Messages(target) {
			if got := strings.ReplaceAll(string(m.AllowedMentions), " ", ""); !strings.Contains(got, `"parse":[]`) {
				t.Errorf("Discord %s message %d (after %d edits): allowed_mentions = %s, want parse []", target, i, m.Edits, m.AllowedMentions)
			}
			for _, raw := range m.Embeds {
				var e struct {
					Title, Description, URL string
					Fields                  []struct{ Name, Value string }
					Footer                  *struct{ Text string }
				}
				if err := json.Unmarshal(raw, &e); err != nil {
					t.Fatal(err)
				}
				texts := []string{m.Content, e.Title, e.Description}
				for _, f := range e.Fields {
					texts = append(texts, f.Name, f.Value)
				}
				if e.Footer != nil {
					texts = append(texts, e.Footer.Text)
				}
				if strings.Contains(e.URL, "evil.example") {
					t.Errorf("Discord %s message %d: embed url %q", target, i, e.URL)
				}
				for _, text := range texts {
					for _, mk := range discordMasked.FindAllStringSubmatch(text, -1) {
						if strings.Contains(mk[2], "evil.example") {
							t.Errorf("Discord %s message %d: masked link to %q in %.300q", target, i, mk[2], text)
						}
					}
				}
			}
		}
	}
	if code := b.stop(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
}

// TestForgedSignaturesRefused sends forged X-JWS-Signature headers to the binary: each is answered 401
// with a JSON reason, and nothing is posted. (internal/receiver tests every check in detail; this proves
// the binary runs them.)
func TestForgedSignaturesRefused(t *testing.T) {
	s, d := notifiertest.NewSlack(t), notifiertest.NewDiscord(t)
	b := startBridge(t, chatEnv(s, d, "*/* -> slack:#deploys"))
	body := fixture.Bytes("environment.push")
	seg := func(v string) string { return base64.RawURLEncoding.EncodeToString([]byte(v)) }
	good := sign(body, sharedKey)
	goodSeg, goodSig, _ := strings.Cut(good, "..")
	withHeader := func(hdr string) string {
		key, _ := base64.RawURLEncoding.DecodeString(sharedKey)
		m := hmac.New(sha256.New, key)
		m.Write([]byte(seg(hdr) + "."))
		m.Write(body)
		return seg(hdr) + ".." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	tests := []struct{ name, header string }{
		{"alg none, no signature", seg(`{"alg":"none","b64":false,"crit":["b64"]}`) + ".."},
		{"alg HS512", withHeader(`{"alg":"HS512","b64":false,"crit":["b64"]}`)},
		{"alg RS256", withHeader(`{"alg":"RS256","b64":false,"crit":["b64"]}`)},
		{"crit missing", withHeader(`{"alg":"HS256","b64":false}`)},
		{"crit wrong", withHeader(`{"alg":"HS256","b64":false,"crit":["exp"]}`)},
		{"attached payload", goodSeg + "." + seg(string(body)) + "." + goodSig},
		{"bad base64 signature", goodSeg + "..!!!!" + goodSig[4:]},
		{"signature of another body", sign(append([]byte(" "), body...), sharedKey)},
		{"signature truncated", good[:len(good)-8]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, b.url+"/webhook", strings.NewReader(string(body)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-JWS-Signature", tt.header)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var ans struct{ Error string }
			if resp.StatusCode != http.StatusUnauthorized || json.NewDecoder(resp.Body).Decode(&ans) != nil || ans.Error == "" {
				t.Errorf("got %d %+v, want 401 with a JSON reason", resp.StatusCode, ans)
			}
		})
	}
	// The control: the real signature of the same body is accepted.
	if code, ans := b.post("", body, sharedKey); code != http.StatusAccepted {
		t.Fatalf("correctly signed: got %d %s, want 202", code, ans)
	}
	waitFor(t, 30*time.Second, "the one accepted notice", func() bool { return len(s.Messages("#deploys")) == 1 })
	b.stop()
	if n := len(s.Messages("#deploys")); n != 1 {
		t.Errorf("#deploys got %d messages, want only the correctly signed one", n)
	}
}
