package metabridge

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"

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
	if err := fetchable(url); err != nil {
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

// fetchable refuses an attachment URL that is not https (a plain-http one only
// on this machine: the fake CDN of tests and the local stack), so a webhook
// cannot make us fetch from inside our network.
func fetchable(raw string) error {
	u, err := neturl.Parse(raw)
	switch {
	case raw == "" || err != nil:
		return errors.New("attachment has no usable url")
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost"):
		return nil
	}
	return errors.New("attachment url is not https")
}
