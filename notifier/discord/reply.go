package discord

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/bwmarrin/discordgo"

	"github.com/activitybridge/activitybridge/notifier"
)

// mentionID is what a Discord mention token may be (route.ParseMention checked it at start-up; a job
// persisted under another configuration is checked again here): a user ID, or & and a role ID.
var mentionID = regexp.MustCompile(`^&?[0-9]{17,20}$`)

// maxMentions bounds the mentions of one message: allowed_mentions takes at most 100 users and 100
// roles, and the content 2,000 characters.
const maxMentions = 50

// maxReplyTitle bounds the title in a reply (units): the reply only says what failed.
const maxReplyTitle = 300

// mentionParts returns the content markup of msg.Mentions (<@id> for a user, <@&id> for a role) and
// the allowed_mentions that lets exactly those ping: parse stays empty, so @everyone, @here and any
// <@id> in untrusted text stay inert, and replied_user is false. A token that is not a Discord ID is
// left out.
func mentionParts(ids []string) (string, *discordgo.MessageAllowedMentions) {
	am := noMentions()
	var parts []string
	for _, id := range ids {
		if len(parts) == maxMentions {
			break
		}
		if !mentionID.MatchString(id) {
			continue
		}
		if role, ok := strings.CutPrefix(id, "&"); ok {
			parts = append(parts, "<@&"+role+">")
			am.Roles = append(am.Roles, role)
		} else {
			parts = append(parts, "<@"+id+">")
			am.Users = append(am.Users, id)
		}
	}
	return strings.Join(parts, " "), am
}

// BuildReply returns the short message that carries msg's mentions when msg edits an earlier message
// (an edit notifies nobody): the mentions, then the status and the title, escaped, and
// allowed_mentions listing exactly those users and roles. original, when set, is a link to the earlier
// message, added for a webhook, which cannot reply; a bot reply refers to it with message_reference
// instead. It returns the zero Payload when msg has no usable mention.
func BuildReply(msg notifier.Message, original string) Payload {
	m, am := mentionParts(msg.Mentions)
	if m == "" {
		return Payload{}
	}
	title, _ := cutEscaped(strings.Join(strings.Fields(msg.Status.Emoji()+" "+msg.Title), " "), maxReplyTitle)
	content := m + " " + title
	if original != "" && safeURL(original) {
		content += " · " + maskedLink("see the message", original)
	}
	return Payload{Content: content, AllowedMentions: am}
}

// editPayload is the payload of an edit: msg without the mention markup (an edit notifies nobody; the
// reply carries the mentions), with the same allowed_mentions as every other request for msg.
func editPayload(msg notifier.Message) Payload {
	p := Build(msg)
	p.Content = ""
	return p
}

// reply posts BuildReply(msg) as a reply (message_reference) to the message ref in the channel. It runs
// after the edit of ref succeeded; when it fails, Send fails and the worker retries the whole Send: the
// edit is repeated (it sets the same content) and the reply goes out then. Discord refuses a reply from a
// bot without Read Message History in the channel (160002), which could never succeed: the mentions then
// go out in a plain message instead, so that the on-call is still pinged.
func (c *channel) reply(ctx context.Context, msg notifier.Message, ref notifier.Ref) error {
	p := BuildReply(msg, "")
	if p.Content == "" {
		return nil
	}
	no := false
	send := &discordgo.MessageSend{Content: p.Content, AllowedMentions: p.AllowedMentions,
		Reference: &discordgo.MessageReference{MessageID: ref.ID, ChannelID: ref.Channel, FailIfNotExists: &no}}
	ch := ref.Channel
	if ch == "" {
		ch = c.id
	}
	m, err := c.s.ChannelMessageSendComplex(ch, send, discordgo.WithContext(ctx))
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Message != nil && re.Message.Code == discordgo.ErrCodeCannotReplyWithoutPermissionToReadMessageHistory {
		send.Reference = nil
		m, err = c.s.ChannelMessageSendComplex(ch, send, discordgo.WithContext(ctx))
	}
	if err != nil {
		return c.fail("reply", err, false)
	}
	if m == nil || m.ID == "" {
		return fmt.Errorf("discord channel %s: reply: answer without a message ID", c.id)
	}
	return nil
}

// hookGuilds caches the guild of each webhook (by webhook ID), for links to its messages.
var hookGuilds sync.Map

// reply posts BuildReply(msg) through the webhook: webhooks cannot send replies, so it is a new message
// with a link to the message ref. The link needs the webhook's guild, asked once (GET
// webhooks/{id}/{token}); without it the reply goes out without the link.
func (h *hook) reply(ctx context.Context, msg notifier.Message, ref notifier.Ref) error {
	original := ""
	if guild := h.guild(ctx); guild != "" && isSnowflake(ref.Channel) && isSnowflake(ref.ID) {
		original = "https://discord.com/channels/" + guild + "/" + ref.Channel + "/" + ref.ID
	}
	p := BuildReply(msg, original)
	if p.Content == "" {
		return nil
	}
	_, err := h.post(ctx, "reply", &discordgo.WebhookParams{Content: p.Content, AllowedMentions: p.AllowedMentions})
	return err
}

// guild returns the webhook's guild ID, or "" when Discord does not say.
func (h *hook) guild(ctx context.Context) string {
	if g, ok := hookGuilds.Load(h.id); ok {
		return g.(string)
	}
	w, err := h.s.WebhookWithToken(h.id, h.token, discordgo.WithContext(ctx))
	if err != nil || w == nil || !isSnowflake(w.GuildID) {
		return ""
	}
	hookGuilds.Store(h.id, w.GuildID)
	return w.GuildID
}
