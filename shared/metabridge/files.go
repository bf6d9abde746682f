package metabridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/livesupportbot/backend/shared/attachment"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/meta"
)

// files copies a Meta message's attachments into our bucket (ingest.Files):
// Messenger and Instagram give a CDN URL fetched without a token; WhatsApp
// gives a media id, resolved to a URL with the tenant's token, which the
// download needs too. Neither URL is kept.
type files struct {
	b        *Bridge
	tenantID string
	channel  string
}

func (f files) Copy(ctx context.Context, tenantID, contactID, dedupeKey string, n int, a channel.Attachment) (chat.Attachment, error) {
	b, token, url, ct := f.b, "", a.URL, a.ContentType
	if a.MediaID != "" {
		in, err := b.Store.ChannelIntegration(ctx, tenantID, f.channel)
		if err != nil {
			return chat.Attachment{}, fmt.Errorf("integration: %w", err)
		}
		if token, err = b.token(ctx, in); err != nil {
			return chat.Attachment{}, err
		}
		info, err := b.Graph.Media(ctx, token, a.MediaID)
		if err != nil {
			return chat.Attachment{}, fmt.Errorf("media url: %w", err)
		}
		url, ct = info.URL, info.MimeType
	}
	if err := attachment.Fetchable(url); err != nil {
		return chat.Attachment{}, err
	}
	data, got, err := b.Graph.Download(ctx, token, url, attachment.MaxBytes)
	if errors.Is(err, meta.ErrTooLarge) {
		err = attachment.ErrTooLarge
	}
	if err != nil {
		return chat.Attachment{}, fmt.Errorf("download: %w", err)
	}
	if ct == "" {
		ct = got
	}
	return b.Files.Put(ctx, tenantID, contactID, dedupeKey, n, a.Name, ct, data)
}
