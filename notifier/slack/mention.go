package slack

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/slack-go/slack"

	"github.com/activitybridge/activitybridge/notifier"
)

// mentionID is what a Slack mention token may be (route.ParseMention checked it at start-up; a job
// persisted under another configuration is checked again here): a user (U…, W…), a user group (S…) or
// "here".
var mentionID = regexp.MustCompile(`^(?:[UWS][A-Z0-9]{2,20}|here)$`)

// maxReplyTitle bounds the title in a reply: the reply only says what failed, the message above says the rest.
const maxReplyTitle = 300

// maxMentions bounds the mentions of one message, so that they always fit a section (3,000 characters).
const maxMentions = 50

// mentions returns the Slack markup of msg.Mentions, space-separated: <@U…> for a user,
// <!subteam^S…> for a user group, <!here>. A token that is not one of those is left out. These are the
// only "<" a payload carries that Slack reads as a mention: every other string is escaped.
func mentions(ids []string) string {
	var parts []string
	for _, id := range ids {
		switch {
		case len(parts) == maxMentions:
			return strings.Join(parts, " ")
		case !mentionID.MatchString(id):
			continue
		case id == "here":
			parts = append(parts, "<!here>")
		case id[0] == 'S':
			parts = append(parts, "<!subteam^"+id+">")
		default:
			parts = append(parts, "<@"+id+">")
		}
	}
	return strings.Join(parts, " ")
}

// BuildReply returns the short message that carries msg's mentions when msg edits an earlier message
// (an edit notifies nobody): the mentions, then the status and the title, escaped. It is posted in the
// original message's thread with reply_broadcast, so the channel sees it too. It returns the zero
// Payload when msg has no usable mention.
func BuildReply(msg notifier.Message) Payload {
	m := mentions(msg.Mentions)
	if m == "" {
		return Payload{}
	}
	title, _ := cutEscaped(strings.Join(strings.Fields(msg.Status.Emoji()+" "+msg.Title), " "), maxReplyTitle)
	text := m + " " + title
	return Payload{Text: text, Blocks: []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}}
}

// withoutMentions returns msg without its mentions: the payload of an edit, which pings nobody anyway.
func withoutMentions(msg notifier.Message) notifier.Message {
	msg.Mentions = nil
	return msg
}

// reply posts BuildReply(msg) in the thread of the message ref, broadcast to the channel. It runs after
// the edit of ref succeeded; when it fails, Send fails and the worker retries the whole Send: the edit
// is repeated (it sets the same content) and the reply goes out then.
func (c *botChannel) reply(ctx context.Context, msg notifier.Message, ref notifier.Ref) error {
	p := BuildReply(msg)
	if p.Text == "" {
		return nil
	}
	_, ts, err := c.bot.api.PostMessageContext(ctx, ref.Channel,
		slack.MsgOptionText(p.Text, false), slack.MsgOptionBlocks(p.Blocks...),
		slack.MsgOptionTS(ref.ID), slack.MsgOptionBroadcast(),
		slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionParse(false))
	if err != nil {
		return c.fail("reply", err, false)
	}
	if ts == "" {
		return fmt.Errorf("slack %s: reply: answer without a message ts", c.channel)
	}
	return nil
}
