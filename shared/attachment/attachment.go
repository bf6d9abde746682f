// Package attachment keeps the files of channel messages (images, audio,
// video, documents) in our bucket. A file is fetched from the provider once, at
// ingest, and stored under the contact it belongs to:
//
//	attachments/<tenantId>/<contactId>/<hash of the message's dedupe key>/<n>
//
// so a retried ingest writes the same object, a privacy export lists a
// person's files by prefix and an erasure deletes them by prefix. The files are
// communication data: the bucket's lifecycle rule expires them after the
// longest communication period (docs/CONTRACT.md), and agents read them
// through short-lived signed links, never the provider's URL (which expires,
// and for some providers carries a token).
package attachment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/s3link"
)

// Prefix is where every attachment lives in the bucket.
const Prefix = "attachments/"

// LinkTTL is how long a link to an attachment that an agent reads is valid.
const LinkTTL = 15 * time.Minute

// MaxBytes is the largest file copied (Meta's own limit for attachments is 25 MB).
const MaxBytes = 25 << 20

// ErrTooLarge means a file is over MaxBytes.
var ErrTooLarge = errors.New("attachment is too large")

// Objects is the bucket's object API (*s3link.Signer).
type Objects interface {
	Put(ctx context.Context, bucket, key, contentType string, body []byte) error
	Get(ctx context.Context, bucket, key string) ([]byte, string, error)
	List(ctx context.Context, bucket, prefix string) ([]s3link.Object, error)
	SignGet(ctx context.Context, bucket, key string, ttl time.Duration) (string, error)
	DeletePrefix(ctx context.Context, bucket, prefix string) (int, error)
}

// Store keeps attachments in one bucket.
type Store struct {
	Objects Objects
	Bucket  string
}

// ContactPrefix is the prefix of every file of a contact.
func ContactPrefix(tenantID, contactID string) string {
	return Prefix + tenantID + "/" + contactID + "/"
}

// Key is the object key of attachment n of the message whose dedupe key is
// dedupeKey: the dedupe key is hashed, as it is the provider's id and may hold
// any character.
func Key(tenantID, contactID, dedupeKey string, n int) string {
	sum := sha256.Sum256([]byte(dedupeKey))
	return fmt.Sprintf("%s%s/%d", ContactPrefix(tenantID, contactID), hex.EncodeToString(sum[:12]), n)
}

// Put stores a file's bytes and returns the attachment that names it.
func (s *Store) Put(ctx context.Context, tenantID, contactID, dedupeKey string, n int, name, contentType string, data []byte) (chat.Attachment, error) {
	if len(data) > MaxBytes {
		return chat.Attachment{}, ErrTooLarge
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	k := Key(tenantID, contactID, dedupeKey, n)
	if err := s.Objects.Put(ctx, s.Bucket, k, contentType, data); err != nil {
		return chat.Attachment{}, fmt.Errorf("store attachment: %w", err)
	}
	return chat.Attachment{Key: k, Name: name, ContentType: contentType, Size: int64(len(data))}, nil
}

// Links sets a short-lived link on every attachment of msgs.
func (s *Store) Links(ctx context.Context, msgs []*chat.Message) error {
	for _, m := range msgs {
		for i := range m.Attachments {
			a := &m.Attachments[i]
			if a.Key == "" {
				continue
			}
			u, err := s.Objects.SignGet(ctx, s.Bucket, a.Key, LinkTTL)
			if err != nil {
				return fmt.Errorf("sign attachment link: %w", err)
			}
			a.URL = u
		}
	}
	return nil
}

// EraseSubject deletes every file of a contact (jobs.EraseHook): safe to call
// again after a partial run.
func (s *Store) EraseSubject(ctx context.Context, tenantID, contactID string) error {
	if tenantID == "" || contactID == "" {
		return errors.New("erase attachments: tenant and contact ids are required")
	}
	if _, err := s.Objects.DeletePrefix(ctx, s.Bucket, ContactPrefix(tenantID, contactID)); err != nil {
		return fmt.Errorf("erase attachments: %w", err)
	}
	return nil
}

// File is one stored attachment with its bytes, as a privacy export carries it.
type File struct {
	Key         string `json:"key"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	Data        []byte `json:"data"` // base64 in JSON
}

// SubjectFiles returns every file of a contact, with its bytes, in key order
// (jobs.Exporter: an export carries a person's files themselves, not links
// that would expire).
func (s *Store) SubjectFiles(ctx context.Context, tenantID, contactID string) ([]File, error) {
	objs, err := s.Objects.List(ctx, s.Bucket, ContactPrefix(tenantID, contactID))
	if err != nil {
		return nil, fmt.Errorf("list attachments: %w", err)
	}
	out := make([]File, 0, len(objs))
	for _, o := range objs {
		data, ct, err := s.Objects.Get(ctx, s.Bucket, o.Key)
		if errors.Is(err, s3link.ErrNotFound) {
			continue // deleted since the list
		}
		if err != nil {
			return nil, fmt.Errorf("read attachment: %w", err)
		}
		out = append(out, File{Key: o.Key, ContentType: ct, Size: int64(len(data)), Data: data})
	}
	return out, nil
}

// Fetchable refuses a provider's file URL that is not https (a plain-http one
// only on this machine: the fakes of tests and the local stack), so a webhook
// cannot make us fetch from inside our network or wait on an unencrypted
// host.
func Fetchable(raw string) error {
	u, err := url.Parse(raw)
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
