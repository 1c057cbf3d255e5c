package notifiertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Slack limits the fake enforces (Block Kit reference; chat.postMessage / chat.update specs).
const (
	slackMaxBlocks       = 50
	slackMaxHeader       = 150
	slackMaxSection      = 3000
	slackMaxField        = 2000
	slackMaxFields       = 10
	slackMaxContextElems = 10
	slackMaxButtonText   = 75
	slackMaxButtonURL    = 3000
	slackMaxActionElems  = 25
	slackMaxBlocksText   = 12000 // msg_blocks_too_long; reported at about 13k, the fake is stricter
	slackMaxPostText     = 40000
	slackMaxUpdateText   = 4000
)

// SlackMessage is the current state of one message in the fake Slack (after any edits).
type SlackMessage struct {
	TS      string
	Channel string // the channel ID (or, for an incoming webhook, the hook's name)
	Text    string
	Blocks  json.RawMessage // the JSON array as sent ("null" when none)
	Edits   int
	Via     string // "bot" or "webhook"
	// Parse and UnfurlLinks are the form fields of the last post or update ("" when not sent).
	Parse       string
	UnfurlLinks string
}

// Slack is a fake Slack: the Web API (chat.postMessage, chat.update; form-encoded, token in the form
// or as a Bearer header) under APIURL, and incoming webhooks under /services/.
type Slack struct {
	base
	srv   *httptest.Server
	token string

	hooks    map[string]string // path -> name
	hookPath map[string]string // name -> path
	msgs     map[string][]*SlackMessage
	seq      int
}

// NewSlack starts a fake Slack on 127.0.0.1; t.Cleanup closes it.
func NewSlack(t testing.TB) *Slack {
	t.Helper()
	s := &Slack{
		base:     newBase(),
		token:    "xoxb-1111111111-2222222222-fAkEsLaCkToKeNfOrTeStS",
		hooks:    map[string]string{},
		hookPath: map[string]string{},
		msgs:     map[string][]*SlackMessage{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.done)
		s.srv.Close()
	})
	return s
}

// APIURL returns the Web API base, ending with "/" (for BRIDGE_SLACK_API_URL and slack.NewBot).
func (s *Slack) APIURL() string { return s.srv.URL + "/api/" }

// Token returns the bot token the fake accepts; any other token gets invalid_auth.
func (s *Slack) Token() string { return s.token }

// Close stops the server now (later requests fail to connect), e.g. to test a refused connection.
func (s *Slack) Close() { s.srv.Close() }

// WebhookURL returns the incoming-webhook URL of the hook called name, creating the hook. Messages
// posted to it are found with Messages(name).
func (s *Slack) WebhookURL(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.hookPath[name]
	if !ok {
		n, secret := digest("slack-hook/" + name)
		p = fmt.Sprintf("/services/TFAKE0001/B%08X/%s", uint32(n), secret[:24])
		s.hookPath[name] = p
		s.hooks[p] = name
	}
	return s.srv.URL + p
}

// ChannelID returns the ID the fake gives a channel name such as "#deploys" (an ID is returned as is).
func (s *Slack) ChannelID(channel string) string {
	if !strings.HasPrefix(channel, "#") {
		return channel
	}
	n, _ := digest("slack-channel/" + strings.TrimPrefix(channel, "#"))
	return fmt.Sprintf("C%08X", uint32(n))
}

// Messages returns the current state of each message in a channel (a "#name" or an ID) or posted
// to an incoming webhook (its name), in the order they were posted.
func (s *Slack) Messages(channel string) []SlackMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := channel
	if _, ok := s.hookPath[channel]; !ok {
		key = s.ChannelID(channel)
	}
	var out []SlackMessage
	for _, m := range s.msgs[key] {
		out = append(out, *m)
	}
	return out
}

// Requests returns every request received so far, in order.
func (s *Slack) Requests() []Request { return s.requestLog() }

// FailNext makes the next n requests (of any kind) answer with f.
func (s *Slack) FailNext(n int, f Failure) { s.failNext(n, f) }

// SetDown makes the fake answer 503 to everything while down is true.
func (s *Slack) SetDown(down bool) { s.setDown(down) }

// EnforceRate limits each channel (and each webhook) to a token bucket of burst, refilled one per
// every; a request over it gets 429 with Retry-After: 1. every <= 0 turns the limit off.
func (s *Slack) EnforceRate(every time.Duration, burst int) { s.enforceRate(every, burst) }

func (s *Slack) serve(w http.ResponseWriter, r *http.Request) {
	kind := "unknown"
	switch {
	case strings.HasSuffix(r.URL.Path, "/chat.postMessage"):
		kind = "post"
	case strings.HasSuffix(r.URL.Path, "/chat.update"):
		kind = "update"
	case strings.HasPrefix(r.URL.Path, "/services/"):
		kind = "webhook"
	}
	body := readBody(r)
	f, fail, ok := s.gate(r)
	if !ok {
		s.record(r, kind, "", 0)
		return
	}
	if !fail {
		f, fail = s.ruleFor(r, body)
	}
	if fail {
		s.writeFailure(w, r, kind, f)
		return
	}
	switch kind {
	case "post", "update":
		s.api(w, r, kind, body)
	case "webhook":
		s.webhook(w, r, body)
	default:
		s.record(r, kind, "", http.StatusNotFound)
		http.Error(w, "not found", http.StatusNotFound)
	}
}

func (s *Slack) writeFailure(w http.ResponseWriter, r *http.Request, kind string, f Failure) {
	status, body, ctype := f.Status, f.Body, "application/json; charset=utf-8"
	switch {
	case f.RetryAfter > 0:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(f.RetryAfter)))
		status = cmp(status, http.StatusTooManyRequests)
		if body == "" {
			body = `{"ok":false,"error":"ratelimited"}`
			if kind == "webhook" {
				body, ctype = "rate_limited", "text/plain"
			}
		}
	case f.SlackError != "":
		if kind == "webhook" {
			status, ctype = cmp(status, http.StatusBadRequest), "text/plain"
			body = cmpStr(body, f.SlackError)
		} else {
			status = cmp(status, http.StatusOK)
			b, _ := json.Marshal(map[string]any{"ok": false, "error": f.SlackError})
			body = cmpStr(body, string(b))
		}
	case f.Status != 0:
		if body == "" {
			body, ctype = http.StatusText(f.Status), "text/html"
		}
	default:
		status = http.StatusOK
	}
	s.record(r, kind, "", status)
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (s *Slack) rateLimited(w http.ResponseWriter, r *http.Request, kind, key string) bool {
	if ok, _ := s.allow(key); ok {
		return false
	}
	s.record(r, kind, key, http.StatusTooManyRequests)
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = io.WriteString(w, `{"ok":false,"error":"ratelimited"}`)
	return true
}

func (s *Slack) api(w http.ResponseWriter, r *http.Request, kind string, body []byte) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		s.answer(w, r, kind, "", map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	token := form.Get("token")
	if h := r.Header.Get("Authorization"); token == "" && strings.HasPrefix(h, "Bearer ") {
		token = strings.TrimPrefix(h, "Bearer ")
	}
	switch {
	case token == "":
		s.answer(w, r, kind, "", map[string]any{"ok": false, "error": "not_authed"})
		return
	case token != s.token:
		s.answer(w, r, kind, "", map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	channel := form.Get("channel")
	id := s.ChannelID(channel)
	if !validChannel(id) {
		s.answer(w, r, kind, id, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	if s.rateLimited(w, r, kind, id) {
		return
	}
	text := form.Get("text")
	blocks, hasBlocks := form["blocks"]
	var rawBlocks json.RawMessage = []byte("null")
	if hasBlocks {
		rawBlocks = json.RawMessage(blocks[0])
		if problems := validateBlocks(rawBlocks); len(problems) > 0 {
			code := "invalid_blocks"
			if strings.HasPrefix(problems[0], "msg_blocks_too_long") {
				code = "msg_blocks_too_long"
			}
			s.answer(w, r, kind, id, map[string]any{"ok": false, "error": code, "response_metadata": map[string]any{"messages": problems}})
			return
		}
	}
	limit := slackMaxPostText
	if kind == "update" {
		limit = slackMaxUpdateText
	}
	if utf8.RuneCountInString(text) > limit {
		s.answer(w, r, kind, id, map[string]any{"ok": false, "error": "msg_too_long"})
		return
	}
	if strings.TrimSpace(text) == "" && (!hasBlocks || string(rawBlocks) == "[]") {
		s.answer(w, r, kind, id, map[string]any{"ok": false, "error": "no_text"})
		return
	}

	s.mu.Lock()
	if kind == "post" {
		s.seq++
		m := &SlackMessage{TS: fmt.Sprintf("1700000000.%06d", s.seq), Channel: id, Text: text, Blocks: rawBlocks, Via: "bot",
			Parse: form.Get("parse"), UnfurlLinks: form.Get("unfurl_links")}
		s.msgs[id] = append(s.msgs[id], m)
		s.mu.Unlock()
		s.answer(w, r, kind, id, map[string]any{"ok": true, "channel": id, "ts": m.TS, "message": map[string]any{"type": "message", "text": text, "ts": m.TS}})
		return
	}
	if strings.HasPrefix(channel, "#") {
		// chat.update wants the channel ID that chat.postMessage answered with.
		s.mu.Unlock()
		s.answer(w, r, kind, id, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	var m *SlackMessage
	for _, x := range s.msgs[id] {
		if x.TS == form.Get("ts") && x.Via == "bot" {
			m = x
		}
	}
	if m == nil {
		s.mu.Unlock()
		s.answer(w, r, kind, id, map[string]any{"ok": false, "error": "message_not_found"})
		return
	}
	m.Text, m.Edits, m.Parse, m.UnfurlLinks = text, m.Edits+1, form.Get("parse"), form.Get("unfurl_links")
	if hasBlocks {
		m.Blocks = rawBlocks
	}
	ts := m.TS
	s.mu.Unlock()
	s.answer(w, r, kind, id, map[string]any{"ok": true, "channel": id, "ts": ts, "text": text})
}

func (s *Slack) answer(w http.ResponseWriter, r *http.Request, kind, target string, v map[string]any) {
	s.record(r, kind, target, http.StatusOK)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Slack) webhook(w http.ResponseWriter, r *http.Request, body []byte) {
	s.mu.Lock()
	name, ok := s.hooks[r.URL.Path]
	s.mu.Unlock()
	plain := func(status int, text string) {
		s.record(r, "webhook", name, status)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, text)
	}
	if !ok || r.Method != http.MethodPost {
		plain(http.StatusNotFound, "no_service")
		return
	}
	var msg struct {
		Text   string          `json:"text"`
		Blocks json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		plain(http.StatusBadRequest, "invalid_payload")
		return
	}
	if len(msg.Blocks) == 0 {
		msg.Blocks = []byte("null")
	}
	if string(msg.Blocks) != "null" {
		if problems := validateBlocks(msg.Blocks); len(problems) > 0 {
			plain(http.StatusBadRequest, "invalid_blocks")
			return
		}
	}
	if strings.TrimSpace(msg.Text) == "" && (string(msg.Blocks) == "null" || string(msg.Blocks) == "[]") {
		plain(http.StatusBadRequest, "no_text")
		return
	}
	if ok, _ := s.allow("hook:" + name); !ok {
		s.record(r, "webhook", name, http.StatusTooManyRequests)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, "rate_limited")
		return
	}
	s.mu.Lock()
	s.seq++
	s.msgs[name] = append(s.msgs[name], &SlackMessage{TS: fmt.Sprintf("1700000000.%06d", s.seq), Channel: name, Text: msg.Text, Blocks: msg.Blocks, Via: "webhook"})
	s.mu.Unlock()
	plain(http.StatusOK, "ok")
}

// validChannel accepts the IDs of public/private channels and DMs: C, G or D and 8+ of [A-Z0-9].
func validChannel(id string) bool {
	if len(id) < 9 || !strings.ContainsRune("CGD", rune(id[0])) {
		return false
	}
	for _, r := range id[1:] {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

type textObj struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// validateBlocks checks a blocks array against the Block Kit limits and returns Slack-like problems.
func validateBlocks(raw json.RawMessage) []string {
	var blocks []struct {
		Type     string            `json:"type"`
		Text     *textObj          `json:"text"`
		Fields   []textObj         `json:"fields"`
		Elements []json.RawMessage `json:"elements"`
	}
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return []string{"[ERROR] blocks must be a JSON array of objects"}
	}
	var problems []string
	bad := func(i int, format string, a ...any) {
		problems = append(problems, fmt.Sprintf("[ERROR] "+format+" [json-pointer:/blocks/%d]", append(a, i)...))
	}
	if len(blocks) > slackMaxBlocks {
		problems = append(problems, fmt.Sprintf("[ERROR] no more than %d items allowed [json-pointer:/blocks]", slackMaxBlocks))
	}
	total := 0
	count := func(s string) int { n := utf8.RuneCountInString(s); total += n; return n }
	for i, b := range blocks {
		switch b.Type {
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" {
				bad(i, "header text must be plain_text")
			} else if n := count(b.Text.Text); n < 1 || n > slackMaxHeader {
				bad(i, "must be less than %d characters", slackMaxHeader+1)
			}
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				bad(i, "a section needs text or fields")
			}
			if b.Text != nil {
				if n := count(b.Text.Text); n < 1 || n > slackMaxSection {
					bad(i, "section text must be 1 to %d characters", slackMaxSection)
				}
			}
			if len(b.Fields) > slackMaxFields {
				bad(i, "no more than %d fields allowed", slackMaxFields)
			}
			for _, f := range b.Fields {
				if n := count(f.Text); n < 1 || n > slackMaxField {
					bad(i, "each field must be 1 to %d characters", slackMaxField)
				}
			}
		case "context":
			if len(b.Elements) < 1 || len(b.Elements) > slackMaxContextElems {
				bad(i, "context needs 1 to %d elements", slackMaxContextElems)
			}
			for _, e := range b.Elements {
				var t textObj
				_ = json.Unmarshal(e, &t)
				if n := count(t.Text); t.Type != "image" && (n < 1 || n > slackMaxSection) {
					bad(i, "context text must be 1 to %d characters", slackMaxSection)
				}
			}
		case "actions":
			if len(b.Elements) < 1 || len(b.Elements) > slackMaxActionElems {
				bad(i, "actions need 1 to %d elements", slackMaxActionElems)
			}
			for _, e := range b.Elements {
				var el struct {
					Type string   `json:"type"`
					Text *textObj `json:"text"`
					URL  string   `json:"url"`
				}
				_ = json.Unmarshal(e, &el)
				if el.Type == "button" {
					if el.Text == nil || el.Text.Type != "plain_text" || utf8.RuneCountInString(el.Text.Text) > slackMaxButtonText || el.Text.Text == "" {
						bad(i, "button text must be plain_text of 1 to %d characters", slackMaxButtonText)
					} else {
						count(el.Text.Text)
					}
					if utf8.RuneCountInString(el.URL) > slackMaxButtonURL {
						bad(i, "button url must be at most %d characters", slackMaxButtonURL)
					}
					total += utf8.RuneCountInString(el.URL)
				}
			}
		case "divider", "image", "rich_text", "markdown", "file", "input", "video", "context_actions":
		default:
			bad(i, "unknown block type %q", b.Type)
		}
	}
	if total > slackMaxBlocksText && len(problems) == 0 {
		problems = append(problems, fmt.Sprintf("msg_blocks_too_long: %d characters of block text", total))
	}
	return problems
}

func cmp(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func cmpStr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// SlackMrkdwnTexts returns every mrkdwn text in a Block Kit blocks array: the parts in which Slack
// turns <…> into mentions and links (plain_text, in headers and buttons, shows <…> literally).
func SlackMrkdwnTexts(blocks json.RawMessage) ([]string, error) {
	var v any
	if err := json.Unmarshal(blocks, &v); err != nil {
		return nil, err
	}
	var texts []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if s, ok := v["text"].(string); ok && v["type"] == "mrkdwn" {
				texts = append(texts, s)
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(v)
	return texts, nil
}

// SlackBlockProblems checks a Block Kit blocks array against the limits the fake enforces and returns
// what Slack would report (nil when the blocks are fine).
func SlackBlockProblems(blocks json.RawMessage) []string { return validateBlocks(blocks) }
