package discord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/activitybridge/activitybridge/notifier"
)

// DefaultAPIURL is the Discord API base used when an empty apiURL is given.
const DefaultAPIURL = "https://discord.com/api/"

// DefaultRetryAfter is the wait asked for when Discord reports a rate limit in the body of a
// non-429 answer (20016 slowmode, 20028 channel write limit, 30046 too many edits of an old message),
// which carries no retry_after.
const DefaultRetryAfter = 30 * time.Second

const defaultTimeout = 30 * time.Second

// Pacing. Discord says not to hard-code limits, and discordgo follows its X-RateLimit headers anyway;
// the worker's pace only avoids running into them. Webhooks: about 5 requests per 2 s per webhook
// and about 30 messages per 60 s per channel (discord-api-docs#367), so a burst of 5 and then one
// every 2 s would meet both. Bots: message creation per channel is observed at 5 per 5 s, so a
// burst of 5 and then one a second. Both run 10% under those, as Slack's do: the worker's clock
// starts before its first send and the server's at the first arrival, so pacing exactly at the
// limit drew one 429 per destination in BenchmarkBurstDrain.
var (
	webhookPace = notifier.Pace{Every: 2200 * time.Millisecond, Burst: 5}
	botPace     = notifier.Pace{Every: 1100 * time.Millisecond, Burst: 5}
)

// rewriter sends discordgo's https://discord.com/api/... requests to the configured API base
// instead, so no discordgo package global is touched. It also applies the session's limiter: a
// request Discord asked us to hold off fails at once, and no answer's rate-limit headers reach
// discordgo's own (sleeping) limiter.
type rewriter struct {
	target *url.URL // ends with "/"
	base   http.RoundTripper
	limits *limiter
}

func (t *rewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	u := r.URL
	if u.Scheme != "https" || u.Host != "discord.com" || !strings.HasPrefix(u.Path, "/api/") {
		return nil, errors.New("discord: refusing a request outside the Discord API")
	}
	r = r.Clone(r.Context())
	nu := *t.target
	nu.Path = t.target.Path + strings.TrimPrefix(u.Path, "/api/")
	nu.RawPath = ""
	nu.RawQuery = u.RawQuery
	r.URL = &nu
	r.Host = nu.Host
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	key := bucketKey(r)
	if err := t.limits.check(key); err != nil {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, err
	}
	resp, err := base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	t.limits.observe(key, resp)
	return resp, nil
}

// newSession returns a discordgo session for token ("" for webhooks, "Bot ..." for a bot) that talks
// to apiURL through hc and never retries or sleeps on its own.
func newSession(token, apiURL string, hc *http.Client) (*discordgo.Session, error) {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("discord: API URL %q is not an absolute http(s) URL; use e.g. %s", apiURL, DefaultAPIURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawPath = ""
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	c := *hc
	c.Transport = &rewriter{target: u, base: hc.Transport, limits: newLimiter()}
	s, err := discordgo.New(token)
	if err != nil {
		return nil, fmt.Errorf("discord: %w", err)
	}
	s.Client = &c
	s.ShouldRetryOnRateLimit = false // its 429 loop sleeps without a bound and ignores ctx
	// Its bucket limiter sleeps too: the rewriter keeps the rate-limit headers from it (see limiter).
	s.MaxRestRetries = 0 // its 502 retries are immediate; the worker backs off instead
	s.LogLevel = -1      // a library does not log; errors carry everything
	return s, nil
}

// Webhooks holds the one discordgo session shared by every Discord webhook, so that rate-limit
// buckets are shared too. It is safe for concurrent use.
type Webhooks struct {
	s *discordgo.Session
}

// NewWebhooks returns the webhook client. Requests go to apiURL (empty for DefaultAPIURL) through hc,
// which should carry a timeout (nil gets one of 30 s).
func NewWebhooks(apiURL string, hc *http.Client) (*Webhooks, error) {
	s, err := newSession("", apiURL, hc)
	if err != nil {
		return nil, err
	}
	return &Webhooks{s: s}, nil
}

var hookPath = regexp.MustCompile(`^/api(?:/v\d+)?/webhooks/(\d{1,25})/([A-Za-z0-9_\-]{1,200})/?$`)

// Hook returns the Notifier for one webhook, given as https://discord.com/api[/vN]/webhooks/{id}/{token}
// with an optional ?thread_id=. Only the ID and token are used: the request always goes to the
// Webhooks' API URL, whatever the host. name names the hook in errors; the URL never appears.
func (w *Webhooks) Hook(name, hookURL string) (notifier.Notifier, error) {
	u, err := url.Parse(strings.TrimSpace(hookURL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("discord webhook %s: not an absolute URL; use https://discord.com/api/webhooks/ID/TOKEN", name)
	}
	m := hookPath.FindStringSubmatch(u.EscapedPath())
	if m == nil {
		return nil, fmt.Errorf("discord webhook %s: the path is not /api/webhooks/ID/TOKEN; copy the URL from the channel's Integrations > Webhooks", name)
	}
	thread := u.Query().Get("thread_id")
	if thread != "" && !isSnowflake(thread) {
		return nil, fmt.Errorf("discord webhook %s: thread_id must be a numeric ID", name)
	}
	return &hook{s: w.s, name: name, id: m[1], token: m[2], thread: thread}, nil
}

type hook struct {
	s                       *discordgo.Session
	name, id, token, thread string
}

// Pace implements notifier.Paced.
func (h *hook) Pace() notifier.Pace { return webhookPace }

// Send implements notifier.Notifier: it executes the webhook (wait=true, so failures are reported and
// the message ID comes back), or edits prev.ID when prev is set.
func (h *hook) Send(ctx context.Context, msg notifier.Message, prev notifier.Ref) (notifier.Ref, error) {
	p := Build(msg)
	if !prev.IsZero() {
		if !isSnowflake(prev.ID) {
			return notifier.Ref{}, notifier.Gone(fmt.Errorf("discord webhook %s: edit: message ID %q is not a Discord ID", h.name, prev.ID))
		}
		uri := discordgo.EndpointWebhookMessage(h.id, h.token, prev.ID)
		if h.thread != "" {
			uri += "?" + url.Values{"thread_id": {h.thread}}.Encode()
		}
		p = editPayload(msg) // the mentions go in a reply
		edit := &discordgo.WebhookEdit{Content: &p.Content, Embeds: &p.Embeds, AllowedMentions: p.AllowedMentions}
		// A bucket per webhook: discordgo's WebhookMessageEdit puts every webhook's edits in one
		// bucket and has no thread_id.
		body, err := h.s.RequestWithBucketID(http.MethodPatch, uri, edit, discordgo.EndpointWebhookToken(h.id, h.token), discordgo.WithContext(ctx))
		if err != nil {
			return notifier.Ref{}, h.fail("edit", err, true)
		}
		var m discordgo.Message
		if err := discordgo.Unmarshal(body, &m); err != nil {
			return notifier.Ref{}, h.fail("edit", fmt.Errorf("%w: %v", discordgo.ErrJSONUnmarshal, err), true)
		}
		r := ref(&m, prev)
		if err := h.reply(ctx, msg, r); err != nil {
			return notifier.Ref{}, err
		}
		return r, nil
	}
	m, err := h.post(ctx, "post", &discordgo.WebhookParams{Content: p.Content, Embeds: p.Embeds, AllowedMentions: p.AllowedMentions})
	if err != nil {
		return notifier.Ref{}, err
	}
	return ref(m, notifier.Ref{}), nil
}

// post executes the webhook with params (wait=true, in the hook's thread if it has one) and returns
// the new message. op ("post", "reply") names the step in the error.
func (h *hook) post(ctx context.Context, op string, params *discordgo.WebhookParams) (*discordgo.Message, error) {
	var m *discordgo.Message
	var err error
	if h.thread != "" {
		m, err = h.s.WebhookThreadExecute(h.id, h.token, true, h.thread, params, discordgo.WithContext(ctx))
	} else {
		m, err = h.s.WebhookExecute(h.id, h.token, true, params, discordgo.WithContext(ctx))
	}
	if err != nil {
		return nil, h.fail(op, err, false)
	}
	if m == nil || m.ID == "" {
		return nil, fmt.Errorf("discord webhook %s: %s: answer without a message ID", h.name, op)
	}
	return m, nil
}

func (h *hook) fail(op string, err error, edit bool) error {
	err = classify(fmt.Errorf("discord webhook %s: %s: %w", h.name, op, redact(err)), edit)
	return redactText(err, h.token)
}

// Bot posts and edits messages in channels with a bot token. It is safe for concurrent use.
type Bot struct {
	s     *discordgo.Session
	token string
}

// NewBot returns a bot client for token (with or without the "Bot " prefix) that talks to apiURL
// (empty for DefaultAPIURL) through hc, which should carry a timeout (nil gets one of 30 s).
func NewBot(token, apiURL string, hc *http.Client) (*Bot, error) {
	token = strings.TrimPrefix(strings.TrimSpace(token), "Bot ")
	if token == "" || strings.ContainsAny(token, " \t\r\n") {
		return nil, errors.New("discord: the bot token is empty or malformed; copy it from the application's Bot page")
	}
	s, err := newSession("Bot "+token, apiURL, hc)
	if err != nil {
		return nil, err
	}
	return &Bot{s: s, token: token}, nil
}

// Channel returns the Notifier for one channel (or thread) ID. Send posts a new message, or edits
// prev when it is set.
func (b *Bot) Channel(channelID string) notifier.Notifier {
	return &channel{s: b.s, id: channelID, token: b.token}
}

type channel struct {
	s         *discordgo.Session
	id, token string
}

// Pace implements notifier.Paced.
func (c *channel) Pace() notifier.Pace { return botPace }

// Send implements notifier.Notifier.
func (c *channel) Send(ctx context.Context, msg notifier.Message, prev notifier.Ref) (notifier.Ref, error) {
	if !isSnowflake(c.id) {
		return notifier.Ref{}, notifier.Permanent(fmt.Errorf("discord channel %s: not a channel ID; use the numeric ID (Developer Mode > Copy Channel ID)", c.id))
	}
	p := Build(msg)
	if !prev.IsZero() {
		ch := prev.Channel
		if ch == "" {
			ch = c.id
		}
		if !isSnowflake(ch) || !isSnowflake(prev.ID) {
			return notifier.Ref{}, notifier.Gone(fmt.Errorf("discord channel %s: edit: %q/%q is not a Discord message", c.id, ch, prev.ID))
		}
		p = editPayload(msg) // the mentions go in a reply
		e := discordgo.NewMessageEdit(ch, prev.ID).SetContent(p.Content).SetEmbeds(p.Embeds)
		e.AllowedMentions = p.AllowedMentions
		m, err := c.s.ChannelMessageEditComplex(e, discordgo.WithContext(ctx))
		if err != nil {
			return notifier.Ref{}, c.fail("edit", err, true)
		}
		r := ref(m, prev)
		if err := c.reply(ctx, msg, r); err != nil {
			return notifier.Ref{}, err
		}
		return r, nil
	}
	m, err := c.s.ChannelMessageSendComplex(c.id, &discordgo.MessageSend{Content: p.Content, Embeds: p.Embeds, AllowedMentions: p.AllowedMentions}, discordgo.WithContext(ctx))
	if err != nil {
		return notifier.Ref{}, c.fail("post", err, false)
	}
	if m == nil || m.ID == "" {
		return notifier.Ref{}, fmt.Errorf("discord channel %s: post: answer without a message ID", c.id)
	}
	return ref(m, notifier.Ref{Channel: c.id}), nil
}

func (c *channel) fail(op string, err error, edit bool) error {
	err = classify(fmt.Errorf("discord channel %s: %s: %w", c.id, op, redact(err)), edit)
	return redactText(err, c.token)
}

func ref(m *discordgo.Message, fallback notifier.Ref) notifier.Ref {
	r := fallback
	if m != nil && m.ID != "" {
		r.ID = m.ID
	}
	if m != nil && m.ChannelID != "" {
		r.Channel = m.ChannelID
	}
	return r
}

func isSnowflake(s string) bool {
	if s == "" || len(s) > 25 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Discord JSON error codes by what they mean for delivery (chat-apis.md §6).
var (
	goneCodes = map[int]bool{
		discordgo.ErrCodeUnknownMessage: true, discordgo.ErrCodeCannotEditFromAnotherUser: true,
		discordgo.ErrCodePerformedOperationOnArchivedThread: true, 160005: true, // thread locked
	}
	rateCodes = map[int]bool{20016: true, 20028: true, 30046: true}
	permCodes = map[int]bool{
		discordgo.ErrCodeUnknownWebhook: true, discordgo.ErrCodeInvalidWebhookTokenProvided: true,
		discordgo.ErrCodeUnknownChannel: true, discordgo.ErrCodeMissingAccess: true,
		discordgo.ErrCodeMissingPermissions: true, discordgo.ErrCodeUnauthorized: true,
		50014:                            true, // invalid authentication token
		discordgo.ErrCodeInvalidFormBody: true, discordgo.ErrCodeCannotSendEmptyMessage: true,
		discordgo.ErrCodeRequestEntityTooLarge: true, discordgo.ErrCodeUnknownMessage: true,
		discordgo.ErrCodeCannotEditFromAnotherUser: true, discordgo.ErrCodePerformedOperationOnArchivedThread: true,
		160005: true, 220001: true, 220002: true, 220003: true, 220004: true,
	}
)

// classify marks err with the delivery error kind it calls for; edit says whether the call was an
// edit, where a missing message means "post a new one".
func classify(err error, edit bool) error {
	var held *limitedError
	if errors.As(err, &held) {
		return notifier.RetryAfter(held.after, err)
	}
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) {
		d := time.Duration(0)
		if rl.RateLimit != nil && rl.TooManyRequests != nil {
			d = rl.RetryAfter
		}
		return notifier.RetryAfter(d, err)
	}
	var re *discordgo.RESTError
	if errors.As(err, &re) {
		if re.Message != nil && re.Message.Code != 0 {
			c := re.Message.Code
			switch {
			case edit && goneCodes[c]:
				return notifier.Gone(err)
			case rateCodes[c]:
				return notifier.RetryAfter(DefaultRetryAfter, err)
			case permCodes[c]:
				return notifier.Permanent(err)
			}
		}
		sc := 0
		if re.Response != nil {
			sc = re.Response.StatusCode
		}
		switch {
		case sc >= 500, sc == http.StatusRequestTimeout, sc == http.StatusTooManyRequests:
			return err
		case sc >= 400:
			return notifier.Permanent(err)
		}
	}
	// 5xx, the untyped "Exceeded Max retries" 502 error, network errors, timeouts and a non-JSON 429
	// (*json.SyntaxError) are all worth another try.
	return err
}

// redact strips what carries a credential out of discordgo's errors before they are wrapped: a
// RateLimitError's URL (its Error() prints it), a RESTError's request URL, and a *url.Error's URL.
func redact(err error) error {
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) {
		c := &discordgo.RateLimitError{RateLimit: &discordgo.RateLimit{URL: "(redacted)"}}
		if rl.RateLimit != nil {
			c.TooManyRequests = rl.TooManyRequests
		}
		if c.TooManyRequests == nil {
			c.TooManyRequests = &discordgo.TooManyRequests{}
		}
		return c
	}
	var re *discordgo.RESTError
	if errors.As(err, &re) {
		c := *re
		blank := &url.URL{Scheme: "https", Host: "discord.com", Path: "/api/(redacted)"}
		if c.Request != nil {
			// A copy without what carries a credential: the URL (a webhook token), the headers (the
			// bot's Authorization) and the body.
			req := c.Request.Clone(context.Background())
			req.URL, req.Header, req.Body, req.GetBody, req.Response = blank, http.Header{}, nil, nil, nil
			c.Request = req
		}
		if c.Response != nil {
			resp := *c.Response
			resp.Request, resp.Body, resp.TLS = c.Request, http.NoBody, nil
			c.Response = &resp
		}
		return &c
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: "(redacted)", Err: ue.Err}
	}
	return err
}

// redactText is the last line of defence: should a secret still appear in err's text, the text is
// rewritten while the chain (and its kind) is kept for errors.As.
func redactText(err error, secrets ...string) error {
	msg := err.Error()
	hit := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "(redacted)")
			hit = true
		}
	}
	if !hit {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
