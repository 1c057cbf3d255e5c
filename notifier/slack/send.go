package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/activitybridge/activitybridge/notifier"
)

// DefaultAPIURL is the Slack Web API base used when NewBot gets an empty apiURL.
const DefaultAPIURL = "https://slack.com/api/"

// DefaultRetryAfter is the wait asked for when Slack says it is rate limiting ("ratelimited",
// "message_limit_exceeded", or HTTP 429) without a Retry-After header. Slack's guide suggests
// backing off for tens of seconds; the chat-apis reference picks 30–60 s, and we take the short end
// because the worker's pacing already keeps us under the limit most of the time.
const DefaultRetryAfter = 30 * time.Second

// defaultTimeout bounds a send when the caller passes no *http.Client.
const defaultTimeout = 30 * time.Second

// Pacing from Slack's rate-limit table (docs.slack.dev/apis/web-api/rate-limits): chat.postMessage
// allows "1 per second" per channel with "short bursts >1 allowed", and incoming webhooks the same. The
// 10% margin keeps us under the limit although our clock starts before the request leaves and Slack's when it
// arrives: pacing at exactly 1/s drew one 429 per channel in a burst of 200 (BENCHMARKS.md).
var (
	botPace     = notifier.Pace{Every: 1100 * time.Millisecond, Burst: 3}
	webhookPace = notifier.Pace{Every: 1100 * time.Millisecond, Burst: 3}
)

// Bot posts and edits messages with a bot (xoxb-) or user (xoxp-) token through chat.postMessage and
// chat.update. One Bot serves every channel; it is safe for concurrent use.
type Bot struct {
	api *slack.Client
}

// NewBot checks the token's shape and the API URL and returns a Bot that talks to apiURL (empty for
// DefaultAPIURL; a trailing slash is added) through hc. hc should carry a timeout; nil gets a client
// with a 30 s timeout.
func NewBot(token, apiURL string, hc *http.Client) (*Bot, error) {
	if !strings.HasPrefix(token, "xoxb-") && !strings.HasPrefix(token, "xoxp-") {
		return nil, errors.New("slack: the bot token must start with xoxb- (bot) or xoxp- (user)")
	}
	if len(token) < 10 || strings.ContainsAny(token, " \t\r\n") {
		return nil, errors.New("slack: the bot token is malformed; copy the whole xoxb-... token from the app's OAuth page")
	}
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("slack: API URL %q is not an absolute http(s) URL; use e.g. %s", apiURL, DefaultAPIURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	// No OptionRetry: the outbox worker owns retries and waits.
	api := slack.New(token, slack.OptionHTTPClient(hc), slack.OptionAPIURL(strings.TrimSuffix(apiURL, "/")+"/"))
	return &Bot{api: api}, nil
}

// Channel returns the Notifier for one channel, given by name ("#deploys") or ID ("C0123ABCD").
// Send posts a new message, or edits prev (prev.Channel and prev.ID) when it is set, and returns
// Ref{Channel: the channel ID Slack answered with, ID: the message ts}.
func (b *Bot) Channel(channel string) notifier.Notifier {
	return &botChannel{bot: b, channel: channel}
}

type botChannel struct {
	bot     *Bot
	channel string
}

// Pace implements notifier.Paced.
func (c *botChannel) Pace() notifier.Pace { return botPace }

// Send implements notifier.Notifier.
func (c *botChannel) Send(ctx context.Context, msg notifier.Message, prev notifier.Ref) (notifier.Ref, error) {
	p := Build(msg)
	if !prev.IsZero() {
		p = Build(withoutMentions(msg)) // an edit notifies nobody: the mentions go in a reply
		ch := prev.Channel
		if ch == "" {
			ch = c.channel
		}
		// parse=none: chat.update resets parse to "client" when it is left out.
		gotCh, ts, _, err := c.bot.api.UpdateMessageContext(ctx, ch, prev.ID,
			slack.MsgOptionText(p.Text, false), slack.MsgOptionBlocks(p.Blocks...), slack.MsgOptionParse(false))
		if err != nil {
			return notifier.Ref{}, c.fail("edit", err, true)
		}
		if ts == "" {
			ts = prev.ID
		}
		if gotCh == "" {
			gotCh = ch
		}
		ref := notifier.Ref{Channel: gotCh, ID: ts}
		if err := c.reply(ctx, msg, ref); err != nil {
			return notifier.Ref{}, err
		}
		return ref, nil
	}
	gotCh, ts, err := c.bot.api.PostMessageContext(ctx, c.channel,
		slack.MsgOptionText(p.Text, false), slack.MsgOptionBlocks(p.Blocks...), slack.MsgOptionDisableLinkUnfurl())
	if err != nil {
		return notifier.Ref{}, c.fail("post", err, false)
	}
	if ts == "" {
		// {"ok":false} without an "error" key decodes as success.
		return notifier.Ref{}, fmt.Errorf("slack %s: post: answer without a message ts", c.channel)
	}
	return notifier.Ref{Channel: gotCh, ID: ts}, nil
}

func (c *botChannel) fail(op string, err error, edit bool) error {
	return classify(fmt.Errorf("slack %s: %s: %w", c.channel, op, redactURL(err)), edit)
}

// NewWebhook returns a Notifier that posts to a Slack incoming webhook. name names the hook in
// errors (the URL is a secret and never appears). A webhook cannot edit: Send ignores prev and
// returns the zero Ref, so every state is a new message.
func NewWebhook(name, hookURL string, hc *http.Client) (notifier.Notifier, error) {
	u, err := url.Parse(strings.TrimSpace(hookURL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("slack webhook %s: not an absolute http(s) URL; use the URL Slack shows for the incoming webhook, https://hooks.slack.com/services/T…/B…/…", name)
	}
	if strings.HasPrefix(u.Path, "/triggers/") || strings.HasPrefix(u.Path, "/workflows/") {
		return nil, fmt.Errorf("slack webhook %s: a Workflow Builder URL does not take Block Kit messages; create an incoming webhook (https://hooks.slack.com/services/...)", name)
	}
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	return &webhook{name: name, url: u.String(), hc: hc}, nil
}

type webhook struct {
	name string
	url  string
	hc   *http.Client
}

// Pace implements notifier.Paced.
func (w *webhook) Pace() notifier.Pace { return webhookPace }

// Send implements notifier.Notifier.
func (w *webhook) Send(ctx context.Context, msg notifier.Message, _ notifier.Ref) (notifier.Ref, error) {
	p := Build(msg)
	no := false
	wm := &slack.WebhookMessage{Text: p.Text, Blocks: &slack.Blocks{BlockSet: p.Blocks}, UnfurlLinks: &no, UnfurlMedia: &no}
	if err := slack.PostWebhookCustomHTTPContext(ctx, w.url, w.hc, wm); err != nil {
		err = classify(fmt.Errorf("slack webhook %s: %w", w.name, redactURL(err)), false)
		return notifier.Ref{}, redactText(err, w.url)
	}
	return notifier.Ref{}, nil
}

// Slack error codes by what they mean for delivery (chat.postMessage and chat.update specs, see
// chat-apis.md §3).
var (
	rateLimitedCodes = map[string]bool{"ratelimited": true, "rate_limited": true, "message_limit_exceeded": true}
	goneCodes        = map[string]bool{"message_not_found": true, "cant_update_message": true, "edit_window_closed": true, "block_mismatch": true}
	permanentCodes   = map[string]bool{
		"invalid_auth": true, "not_authed": true, "account_inactive": true, "token_revoked": true,
		"token_expired": true, "missing_scope": true, "no_permission": true, "not_allowed_token_type": true,
		"team_access_not_granted": true, "ekm_access_denied": true, "access_denied": true, "org_login_required": true,
		"channel_not_found": true, "not_in_channel": true, "is_archived": true, "is_inactive": true,
		"team_not_found": true, "invalid_blocks": true, "invalid_blocks_format": true, "msg_too_long": true,
		"msg_blocks_too_long": true, "no_text": true, "too_many_attachments": true, "invalid_attachments": true,
		"attachment_payload_limit_exceeded": true, "invalid_arguments": true, "invalid_form_data": true,
		"markdown_text_conflict": true, "metadata_too_large": true, "invalid_metadata_format": true,
		"invalid_metadata_schema": true,
	}
)

// classify marks err with the delivery error kind it calls for. edit says whether the call was a
// chat.update, where a missing message means "post a new one".
func classify(err error, edit bool) error {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return notifier.RetryAfter(rl.RetryAfter, err)
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		switch {
		case sc.Code == http.StatusTooManyRequests:
			return notifier.RetryAfter(DefaultRetryAfter, err)
		case sc.Code >= 500, sc.Code == http.StatusRequestTimeout:
			return err
		case sc.Code >= 400:
			return notifier.Permanent(err)
		}
		return err
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch {
		case rateLimitedCodes[se.Err]:
			return notifier.RetryAfter(DefaultRetryAfter, err)
		case edit && goneCodes[se.Err]:
			return notifier.Gone(err)
		case permanentCodes[se.Err], strings.HasPrefix(se.Err, "restricted_action"), strings.HasPrefix(se.Err, "invalid_metadata"):
			return notifier.Permanent(err)
		}
	}
	// Everything else (5xx, network errors, timeouts, a non-JSON answer) is worth another try.
	return err
}

// redactURL replaces a *url.Error anywhere in err's chain by one without its URL (for an incoming
// webhook the URL is the secret). The texts of the wrappers above it are rebuilt without it.
func redactURL(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return &url.Error{Op: ue.Op, URL: "(redacted)", Err: ue.Err}
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
