package slackbridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/slack-go/slack"
)

// EraseSubject is the erase hook of privacy requests: it deletes from Slack
// (chat.delete) every message our bot posted about the contact, thread headers
// included, and removes the records of them. It finds them by Query through the
// contact's conversations. A message already gone from Slack counts as deleted;
// when the tenant has no Slack integration any more, nothing can be deleted in
// Slack and only the records are removed. Any other failure (a 429 included) is
// returned, with the records of what was not deleted kept for the retry.
func (b *Bridge) EraseSubject(ctx context.Context, tenantID, contactID string) error {
	convs, err := b.st.SlackItemsOfContact(ctx, tenantID, contactID)
	if err != nil {
		return fmt.Errorf("slack erase %s: %w", contactID, err)
	}
	if len(convs) == 0 {
		return nil
	}
	_, api, err := b.client(ctx, tenantID)
	if err != nil && !errors.Is(err, errNotInstalled) {
		return fmt.Errorf("slack erase %s: %w", contactID, err)
	}
	del := func(channel, ts string) error {
		if api == nil || ts == "" {
			return nil
		}
		_, _, err := api.DeleteMessageContext(ctx, channel, ts)
		var se slack.SlackErrorResponse
		if errors.As(err, &se) && (se.Err == "message_not_found" || se.Err == "channel_not_found" ||
			se.Err == "invalid_auth" || se.Err == "account_inactive" || se.Err == "token_revoked" || se.Err == "not_in_channel") {
			return nil // gone already, or can never be deleted with this install
		}
		return err
	}
	deleted := 0
	for _, cv := range convs {
		for _, p := range cv.Posts {
			if err := del(p.ChannelID, p.TS); err != nil {
				return fmt.Errorf("slack erase post %s: %w", p.MessageID, err)
			}
			if err := b.st.DeleteSlackPost(ctx, tenantID, cv.ConversationID, p.MessageID); err != nil {
				return fmt.Errorf("slack erase %s: %w", contactID, err)
			}
			deleted++
		}
		if cv.Thread != nil {
			if err := del(cv.Thread.ChannelID, cv.Thread.ThreadTS); err != nil {
				return fmt.Errorf("slack erase thread of %s: %w", cv.ConversationID, err)
			}
			if err := b.st.DeleteSlackThread(ctx, cv.Thread); err != nil {
				return fmt.Errorf("slack erase %s: %w", contactID, err)
			}
			deleted++
		}
	}
	b.log.InfoContext(ctx, "slack posts erased", "tenantId", tenantID, "contactId", contactID, "posts", deleted, "inSlack", api != nil)
	return nil
}
