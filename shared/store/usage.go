package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
)

// Usage and technical data from the widget live in the contact's partition (so a
// subject's export, erasure and legal hold find them by Query) and in the
// retention index of their class (so retention-sweep finds them by month):
//
//	item       PK              SK                         GSI2PK / GSI2SK
//	page view  T#t#CONTACT#c   PV#<time>#<id>             T#t#RET#usage#<yyyy-mm>[#n] / <time>#PK
//	device     T#t#CONTACT#c   DEV#<hash of device,os>    T#t#RET#technical#<yyyy-mm>[#n] / <end of lastSeen's day>#PK
const (
	prefPageView = "PV#"
	prefDevice   = "DEV#"
)

// pageViewItem is a stored page view. The attribute names are the stored
// layout: never change them.
type pageViewItem struct {
	Base
	ID           string    `dynamodbav:"id"`
	TenantID     string    `dynamodbav:"tenantId"`
	ContactID    string    `dynamodbav:"contactId"`
	Path         string    `dynamodbav:"path"`
	Referrer     string    `dynamodbav:"referrer,omitempty"`
	Browser      string    `dynamodbav:"browser,omitempty"`
	IPNetwork    string    `dynamodbav:"ipNetwork,omitempty"`
	TimeOnPageMs int64     `dynamodbav:"timeOnPageMs"`
	At           time.Time `dynamodbav:"at"`
}

func (it pageViewItem) pageView() chat.PageView {
	return chat.PageView{ID: it.ID, TenantID: it.TenantID, ContactID: it.ContactID, Path: it.Path, Referrer: it.Referrer,
		Browser: it.Browser, IPNetwork: it.IPNetwork, TimeOnPageMs: it.TimeOnPageMs, At: it.At}
}

// deviceItem is a stored device and OS pair (stored layout: never change the
// attribute names).
type deviceItem struct {
	Base
	TenantID   string    `dynamodbav:"tenantId"`
	ContactID  string    `dynamodbav:"contactId"`
	Device     string    `dynamodbav:"device"`
	OS         string    `dynamodbav:"os"`
	LastSeenAt time.Time `dynamodbav:"lastSeenAt"`
}

func (it deviceItem) device() chat.Device {
	return chat.Device{TenantID: it.TenantID, ContactID: it.ContactID, Device: it.Device, OS: it.OS, LastSeenAt: it.LastSeenAt}
}

// PageViewSK is the sort key of a page view.
func PageViewSK(at time.Time, id string) string { return prefPageView + TimeKey(at) + "#" + id }

// DeviceSK is the sort key of a contact's device and OS pair.
func DeviceSK(device, os string) string {
	h := sha256.Sum256([]byte(device + "\x00" + os))
	return prefDevice + hex.EncodeToString(h[:8])
}

// PutPageView stores a page view at the store's time; it sets ID and At.
func (s *Store) PutPageView(ctx context.Context, v *chat.PageView, p retention.Periods) error {
	v.ID, v.At = ids.New(ids.Event), s.Now()
	pk := ContactPK(v.TenantID, v.ContactID)
	item, err := attributevalue.MarshalMap(pageViewItem{
		Base: Base{PK: pk, SK: PageViewSK(v.At, v.ID), DataClass: retention.Usage, Entity: "pageView",
			GSI2PK: RetentionKey(v.TenantID, string(retention.Usage), v.At, pk), GSI2SK: RetentionSort(v.At, pk),
			ExpiresAt: retention.ExpiresAt(p, retention.Usage, v.At)},
		ID: v.ID, TenantID: v.TenantID, ContactID: v.ContactID, Path: v.Path, Referrer: v.Referrer,
		Browser: v.Browser, IPNetwork: v.IPNetwork, TimeOnPageMs: v.TimeOnPageMs, At: v.At,
	})
	if err != nil {
		return wrap("marshal page view", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: item})
	return wrap("put page view", err)
}

// TouchDevice records that a contact used a device and OS now: one item per
// pair, rewritten on each use, so its lastSeenAt moves forward, and its
// retention index position and expiresAt (from the end of the day) too. A held subject's device (an existing item with no
// expiresAt) is rewritten without one. One PutItem in the common case.
func (s *Store) TouchDevice(ctx context.Context, d *chat.Device, p retention.Periods) error {
	now := s.Now()
	pk := ContactPK(d.TenantID, d.ContactID)
	d.LastSeenAt = now
	// The retention basis is the end of the day (as a conversation's), so the
	// index entry and expiresAt move on a device's first use of a day only,
	// not with every page.
	basis := DayEnd(now)
	b := Base{PK: pk, SK: DeviceSK(d.Device, d.OS), DataClass: retention.Technical, Entity: "device",
		GSI2PK: RetentionKey(d.TenantID, string(retention.Technical), basis, pk), GSI2SK: RetentionSort(basis, pk),
		ExpiresAt: retention.ExpiresAt(p, retention.Technical, basis)}
	for _, held := range []bool{false, true} {
		if held {
			b.ExpiresAt = 0
		}
		item, err := attributevalue.MarshalMap(deviceItem{Base: b, TenantID: d.TenantID, ContactID: d.ContactID,
			Device: d.Device, OS: d.OS, LastSeenAt: d.LastSeenAt})
		if err != nil {
			return wrap("marshal device", err)
		}
		in := &dynamodb.PutItemInput{TableName: &s.data, Item: item}
		if !held && b.ExpiresAt != 0 {
			in.ConditionExpression = aws.String("attribute_not_exists(PK) OR attribute_exists(expiresAt)")
		}
		_, err = s.db.PutItem(ctx, in)
		if err == nil || !isConditionFailed(err) {
			return wrap("put device", err)
		}
	}
	return nil
}

// PageViews lists a contact's live page views, oldest first.
func (s *Store) PageViews(ctx context.Context, tenantID, contactID string) ([]chat.PageView, error) {
	var items []pageViewItem
	if err := s.queryLive(ctx, ContactPK(tenantID, contactID), prefPageView, &items); err != nil {
		return nil, wrap("query page views", err)
	}
	out := make([]chat.PageView, len(items))
	for i, it := range items {
		out[i] = it.pageView()
	}
	return out, nil
}

// Devices lists a contact's live devices.
func (s *Store) Devices(ctx context.Context, tenantID, contactID string) ([]chat.Device, error) {
	var items []deviceItem
	if err := s.queryLive(ctx, ContactPK(tenantID, contactID), prefDevice, &items); err != nil {
		return nil, wrap("query devices", err)
	}
	out := make([]chat.Device, len(items))
	for i, it := range items {
		out[i] = it.device()
	}
	return out, nil
}
