package notifiertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Discord limits the fake enforces (developers/resources/message.mdx); lengths are counted in runes
// after trimming, as Discord documents.
const (
	discordMaxContent     = 2000
	discordMaxEmbeds      = 10
	discordMaxTitle       = 256
	discordMaxDescription = 4096
	discordMaxFields      = 25
	discordMaxFieldName   = 256
	discordMaxFieldValue  = 1024
	discordMaxFooter      = 2048
	discordMaxAuthor      = 256
	discordMaxTotal       = 6000
)

// DiscordMessage is the current state of one message in the fake Discord (after any edits).
type DiscordMessage struct {
	ID        string
	ChannelID string
	Content   string
	Embeds    []json.RawMessage
	// AllowedMentions is allowed_mentions as sent in the last post or edit (nil when it was left out),
	// so tests can assert {"parse":[]}.
	AllowedMentions json.RawMessage
	Edits           int
	Via             string // "webhook" or "bot"
	ThreadID        string
}

type discordHook struct {
	name, id, token, channel string
}

// Discord is a fake Discord API under APIURL (/api/v9/... and /api/v10/...): webhook execute
// (POST webhooks/{id}/{token}, wait=true answers the message) and edit (PATCH .../messages/{id}),
// and bot channel messages (POST/PATCH channels/{id}/messages, "Bot " authorization).
type Discord struct {
	base
	srv      *httptest.Server
	botToken string
	hooks    map[string]*discordHook // by ID
	byName   map[string]*discordHook
	msgs     map[string][]*DiscordMessage // by hook name or channel ID
	seq      uint64

	globalUntil time.Time // LimitGlobally
}

// NewDiscord starts a fake Discord on 127.0.0.1; t.Cleanup closes it.
func NewDiscord(t testing.TB) *Discord {
	t.Helper()
	d := &Discord{
		base:     newBase(),
		botToken: "MTAxMDEwMTAxMDEwMTAxMDEw.FaKeBo.t0kEn_f0r-TeStS-0nLy-abcdefghij",
		hooks:    map[string]*discordHook{},
		byName:   map[string]*discordHook{},
		msgs:     map[string][]*DiscordMessage{},
	}
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(func() {
		close(d.done)
		d.srv.Close()
	})
	return d
}

// APIURL returns the API base, e.g. http://127.0.0.1:P/api/ (for BRIDGE_DISCORD_API_URL).
func (d *Discord) APIURL() string { return d.srv.URL + "/api/" }

// BotToken returns the bot token the fake accepts (sent as "Bot <token>").
func (d *Discord) BotToken() string { return d.botToken }

// Close stops the server now (later requests fail to connect), e.g. to test a refused connection.
func (d *Discord) Close() { d.srv.Close() }

// WebhookURL returns the URL of the webhook called name, http://127.0.0.1:P/api/webhooks/{id}/{token},
// creating the webhook. Messages posted through it are found with Messages(name).
func (d *Discord) WebhookURL(name string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	h, ok := d.byName[name]
	if !ok {
		n, secret := digest("discord-hook/" + name)
		h = &discordHook{
			name:    name,
			id:      fmt.Sprintf("1%018d", n%1e18),
			token:   secret[:68],
			channel: fmt.Sprintf("9%018d", (n/7)%1e18),
		}
		d.byName[name] = h
		d.hooks[h.id] = h
	}
	return d.srv.URL + "/api/webhooks/" + h.id + "/" + h.token
}

// Messages returns the current state of each message posted through the webhook called target, or
// by the bot to the channel with ID target, in the order they were posted.
func (d *Discord) Messages(target string) []DiscordMessage {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []DiscordMessage
	for _, m := range d.msgs[target] {
		c := *m
		c.Embeds = append([]json.RawMessage(nil), m.Embeds...)
		out = append(out, c)
	}
	return out
}

// Requests returns every request received so far, in order.
func (d *Discord) Requests() []Request { return d.requestLog() }

// FailNext makes the next n requests (of any kind) answer with f.
func (d *Discord) FailNext(n int, f Failure) { d.failNext(n, f) }

// SetDown makes the fake answer 503 to everything while down is true.
func (d *Discord) SetDown(down bool) { d.setDown(down) }

// EnforceRate limits each webhook and each channel to a token bucket of burst, refilled one per
// every; a request over it gets 429 with retry_after 1 s. every <= 0 turns the limit off.
func (d *Discord) EnforceRate(every time.Duration, burst int) { d.enforceRate(every, burst) }

var (
	discordVersion = regexp.MustCompile(`^/api(?:/v\d+)?/`)
	snowflake      = regexp.MustCompile(`^\d{1,25}$`)
)

func (d *Discord) serve(w http.ResponseWriter, r *http.Request) {
	loc := discordVersion.FindString(r.URL.Path)
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, loc), "/"), "/")
	kind := "unknown"
	switch {
	case loc == "":
	case len(parts) == 3 && parts[0] == "webhooks" && r.Method == http.MethodPost:
		kind = "webhook-post"
	case len(parts) == 5 && parts[0] == "webhooks" && parts[3] == "messages" && r.Method == http.MethodPatch:
		kind = "webhook-edit"
	case len(parts) == 3 && parts[0] == "channels" && parts[2] == "messages" && r.Method == http.MethodPost:
		kind = "bot-post"
	case len(parts) == 4 && parts[0] == "channels" && parts[2] == "messages" && r.Method == http.MethodPatch:
		kind = "bot-edit"
	}
	body := readBody(r)
	f, fail, ok := d.gate(r)
	if !ok {
		d.record(r, kind, "", 0)
		return
	}
	if !fail {
		f, fail = d.ruleFor(r, body)
	}
	if fail {
		d.writeFailure(w, r, kind, f)
		return
	}
	if d.globalLimited(w, r, kind) {
		return
	}
	switch kind {
	case "webhook-post", "webhook-edit":
		d.webhook(w, r, kind, parts, body)
	case "bot-post", "bot-edit":
		d.bot(w, r, kind, parts, body)
	default:
		d.apiError(w, r, kind, "", http.StatusNotFound, 0, "404: Not Found")
	}
}

func (d *Discord) writeFailure(w http.ResponseWriter, r *http.Request, kind string, f Failure) {
	status, body := f.Status, f.Body
	switch {
	case f.RetryAfter > 0:
		status = cmp(status, http.StatusTooManyRequests)
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(f.RetryAfter)))
		w.Header().Set("X-RateLimit-Scope", "user")
		w.Header().Set("X-RateLimit-Remaining", "0")
		// Kept tiny: discordgo sleeps Reset-After before the next request, ignoring ctx.
		w.Header().Set("X-RateLimit-Reset-After", "0.001")
		if body == "" {
			b, _ := json.Marshal(map[string]any{"message": "You are being rate limited.", "retry_after": f.RetryAfter.Seconds(), "global": false})
			body = string(b)
		}
	case f.Code != 0:
		status = cmp(status, http.StatusBadRequest)
		if body == "" {
			b, _ := json.Marshal(map[string]any{"message": cmpStr(f.Message, "Error"), "code": f.Code})
			body = string(b)
		}
	case f.Status != 0:
		if body == "" {
			if f.Status >= 500 {
				body = http.StatusText(f.Status)
			} else {
				b, _ := json.Marshal(map[string]any{"message": fmt.Sprintf("%d: %s", f.Status, http.StatusText(f.Status)), "code": 0})
				body = string(b)
			}
		}
	default:
		status = http.StatusOK
	}
	d.record(r, kind, "", status)
	if strings.HasPrefix(body, "{") {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (d *Discord) apiError(w http.ResponseWriter, r *http.Request, kind, target string, status, code int, msg string, extra ...any) {
	d.record(r, kind, target, status)
	v := map[string]any{"message": msg, "code": code}
	if len(extra) == 1 {
		v["errors"] = extra[0]
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (d *Discord) rateHeaders(w http.ResponseWriter, key string, remaining int) {
	n, _ := digest("bucket/" + key)
	w.Header().Set("X-RateLimit-Limit", "5")
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	w.Header().Set("X-RateLimit-Reset", strconv.FormatFloat(float64(time.Now().Add(time.Millisecond).UnixMilli())/1000, 'f', 3, 64))
	w.Header().Set("X-RateLimit-Reset-After", "0.001")
	w.Header().Set("X-RateLimit-Bucket", fmt.Sprintf("%016x", n))
}

// limited applies EnforceRate to key and answers the 429 when it is over.
func (d *Discord) limited(w http.ResponseWriter, r *http.Request, kind, key, target string) bool {
	ok, remaining := d.allow(key)
	d.rateHeaders(w, key, remaining)
	if ok {
		return false
	}
	d.record(r, kind, target, http.StatusTooManyRequests)
	w.Header().Set("Retry-After", "1")
	w.Header().Set("X-RateLimit-Scope", "user")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = io.WriteString(w, `{"message":"You are being rate limited.","retry_after":1.0,"global":false}`)
	return true
}

type discordBody struct {
	content         *string
	embeds          []json.RawMessage
	hasEmbeds       bool
	allowedMentions json.RawMessage
}

// parseBody decodes and checks a message body; problem is a Discord-like errors object when it breaks a limit.
func parseBody(body []byte, post bool) (discordBody, any, string) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return discordBody{}, map[string]any{"_errors": []any{map[string]string{"code": "MODEL_TYPE_CONVERT", "message": "Invalid JSON"}}}, "body is not JSON"
	}
	var b discordBody
	if c, ok := raw["content"]; ok && string(c) != "null" {
		var s string
		if json.Unmarshal(c, &s) != nil {
			return b, fieldErr("content", "Must be a string."), "content"
		}
		b.content = &s
	}
	if e, ok := raw["embeds"]; ok && string(e) != "null" {
		b.hasEmbeds = true
		if json.Unmarshal(e, &b.embeds) != nil {
			return b, fieldErr("embeds", "Must be an array."), "embeds"
		}
	}
	if am, ok := raw["allowed_mentions"]; ok {
		b.allowedMentions = am
	}
	if b.content != nil && utf8.RuneCountInString(strings.TrimSpace(*b.content)) > discordMaxContent {
		return b, fieldErr("content", "Must be 2000 or fewer in length."), "content"
	}
	if len(b.embeds) > discordMaxEmbeds {
		return b, fieldErr("embeds", "Must be 10 or fewer in length."), "embeds"
	}
	total := 0
	for i, e := range b.embeds {
		var em struct {
			Title       string `json:"title"`
			Description string `json:"description"`
			Fields      []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"fields"`
			Footer *struct {
				Text string `json:"text"`
			} `json:"footer"`
			Author *struct {
				Name string `json:"name"`
			} `json:"author"`
		}
		if json.Unmarshal(e, &em) != nil {
			return b, fieldErr(fmt.Sprintf("embeds.%d", i), "Must be an object."), "embed"
		}
		n := func(s string) int { k := utf8.RuneCountInString(strings.TrimSpace(s)); total += k; return k }
		check := []struct {
			ok   bool
			path string
		}{
			{n(em.Title) <= discordMaxTitle, "title"},
			{n(em.Description) <= discordMaxDescription, "description"},
			{len(em.Fields) <= discordMaxFields, "fields"},
		}
		for _, c := range check {
			if !c.ok {
				return b, fieldErr(fmt.Sprintf("embeds.%d.%s", i, c.path), "Must be within the embed limit."), c.path
			}
		}
		for j, f := range em.Fields {
			if k := n(f.Name); k < 1 || k > discordMaxFieldName {
				return b, fieldErr(fmt.Sprintf("embeds.%d.fields.%d.name", i, j), "Must be between 1 and 256 in length."), "field name"
			}
			if k := n(f.Value); k < 1 || k > discordMaxFieldValue {
				return b, fieldErr(fmt.Sprintf("embeds.%d.fields.%d.value", i, j), "Must be between 1 and 1024 in length."), "field value"
			}
		}
		if em.Footer != nil && n(em.Footer.Text) > discordMaxFooter {
			return b, fieldErr(fmt.Sprintf("embeds.%d.footer.text", i), "Must be 2048 or fewer in length."), "footer"
		}
		if em.Author != nil && n(em.Author.Name) > discordMaxAuthor {
			return b, fieldErr(fmt.Sprintf("embeds.%d.author.name", i), "Must be 256 or fewer in length."), "author"
		}
	}
	if total > discordMaxTotal {
		return b, fieldErr("embeds", "Embed size exceeds maximum size of 6000"), "total"
	}
	if post && (b.content == nil || strings.TrimSpace(*b.content) == "") && len(b.embeds) == 0 {
		return b, nil, "empty"
	}
	return b, nil, ""
}

func fieldErr(path, msg string) any {
	var v any = map[string]any{"_errors": []any{map[string]string{"code": "BASE_TYPE_BAD_LENGTH", "message": msg}}}
	parts := strings.Split(path, ".")
	for i := len(parts) - 1; i >= 0; i-- {
		v = map[string]any{parts[i]: v}
	}
	return v
}

func (d *Discord) webhook(w http.ResponseWriter, r *http.Request, kind string, parts []string, body []byte) {
	d.mu.Lock()
	h := d.hooks[parts[1]]
	d.mu.Unlock()
	if h == nil {
		d.apiError(w, r, kind, "", http.StatusNotFound, 10015, "Unknown Webhook")
		return
	}
	if parts[2] != h.token {
		d.apiError(w, r, kind, h.name, http.StatusUnauthorized, 50027, "Invalid Webhook Token")
		return
	}
	if d.limited(w, r, kind, "hook:"+h.id, h.name) {
		return
	}
	d.store(w, r, kind, h.name, "webhook", h.channel, parts, body)
}

func (d *Discord) bot(w http.ResponseWriter, r *http.Request, kind string, parts []string, body []byte) {
	if r.Header.Get("Authorization") != "Bot "+d.botToken {
		d.apiError(w, r, kind, "", http.StatusUnauthorized, 0, "401: Unauthorized")
		return
	}
	ch := parts[1]
	if !snowflake.MatchString(ch) {
		d.apiError(w, r, kind, ch, http.StatusNotFound, 10003, "Unknown Channel")
		return
	}
	if d.limited(w, r, kind, "channel:"+ch, ch) {
		return
	}
	d.store(w, r, kind, ch, "bot", ch, parts, body)
}

// store posts or edits a message in target (a hook name or a channel ID) and answers the message.
func (d *Discord) store(w http.ResponseWriter, r *http.Request, kind, target, via, channel string, parts []string, body []byte) {
	post := kind == "webhook-post" || kind == "bot-post"
	b, problem, what := parseBody(body, post)
	switch {
	case what == "empty":
		d.apiError(w, r, kind, target, http.StatusBadRequest, 50006, "Cannot send an empty message")
		return
	case what != "":
		d.apiError(w, r, kind, target, http.StatusBadRequest, 50035, "Invalid Form Body", problem)
		return
	}
	thread := r.URL.Query().Get("thread_id")
	d.mu.Lock()
	var m *DiscordMessage
	if post {
		d.seq++
		m = &DiscordMessage{ID: strconv.FormatUint(1200000000000000000+d.seq, 10), ChannelID: channel, Via: via, ThreadID: thread}
		if thread != "" {
			m.ChannelID = thread
		}
		d.msgs[target] = append(d.msgs[target], m)
	} else {
		id := parts[len(parts)-1]
		for _, x := range d.msgs[target] {
			if x.ID == id && x.Via == via && x.ThreadID == thread {
				m = x
			}
		}
		if m == nil {
			d.mu.Unlock()
			d.apiError(w, r, kind, target, http.StatusNotFound, 10008, "Unknown Message")
			return
		}
		m.Edits++
	}
	if b.content != nil {
		m.Content = *b.content
	}
	if b.hasEmbeds || post {
		m.Embeds = b.embeds
	}
	m.AllowedMentions = b.allowedMentions
	out := map[string]any{"id": m.ID, "channel_id": m.ChannelID, "content": m.Content, "embeds": m.Embeds, "type": 0, "tts": false}
	if via == "webhook" {
		out["webhook_id"] = parts[1]
	}
	d.mu.Unlock()

	d.record(r, kind, target, http.StatusOK)
	if post && via == "webhook" && r.URL.Query().Get("wait") != "true" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// DiscordBodyProblem checks a message body (as posted to Discord) against the limits the fake
// enforces and returns what is wrong ("" when it is fine).
func DiscordBodyProblem(body []byte) string {
	_, problem, what := parseBody(body, true)
	if what == "" {
		return ""
	}
	b, _ := json.Marshal(problem)
	return what + ": " + string(b)
}
