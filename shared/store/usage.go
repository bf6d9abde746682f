package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
)

// Usage and technical data from the widget live in the contact's partition (so a
// subject's export, erasure and legal hold find them by Query) and in the
// retention index of their class (so retention-sweep finds them by month):
//
//	item       PK              SK                         GSI2PK / GSI2SK
//	page view  T#t#CONTACT#c   PV#<time>#<id>             T#t#RET#usage#<yyyy-mm> / <time>#PK
//	device     T#t#CONTACT#c   DEV#<hash of device,os>    T#t#RET#technical#<yyyy-mm> / <lastSeen>#PK
const (
	prefPageView = "PV#"
	prefDevice   = "DEV#"
)

// PageView is one page a visitor looked at: usage data, kept for the usage
// period and never archived. It holds no query string, and the address only as
// its /24 or /48 network.
type PageView struct {
	ID           string    `dynamodbav:"id" json:"id"`
	TenantID     string    `dynamodbav:"tenantId" json:"-"`
	ContactID    string    `dynamodbav:"contactId" json:"contactId"`
	Path         string    `dynamodbav:"path" json:"path"`
	Referrer     string    `dynamodbav:"referrer,omitempty" json:"referrer,omitempty"`
	Browser      string    `dynamodbav:"browser,omitempty" json:"browser,omitempty"`
	IPNetwork    string    `dynamodbav:"ipNetwork,omitempty" json:"ipNetwork,omitempty"`
	TimeOnPageMs int64     `dynamodbav:"timeOnPageMs" json:"timeOnPageMs"`
	At           time.Time `dynamodbav:"at" json:"at"`
}

type pageViewItem struct {
	Base
	PageView
}

// Device is a device and operating system a visitor used: technical data, kept
// for the technical period after it was last seen and never archived.
type Device struct {
	TenantID   string    `dynamodbav:"tenantId" json:"-"`
	ContactID  string    `dynamodbav:"contactId" json:"contactId"`
	Device     string    `dynamodbav:"device" json:"device"`
	OS         string    `dynamodbav:"os" json:"os"`
	LastSeenAt time.Time `dynamodbav:"lastSeenAt" json:"lastSeenAt"`
}

type deviceItem struct {
	Base
	Device
}

// PageViewSK is the sort key of a page view.
func PageViewSK(at time.Time, id string) string { return prefPageView + TimeKey(at) + "#" + id }

// DeviceSK is the sort key of a contact's device and OS pair.
func DeviceSK(device, os string) string {
	h := sha256.Sum256([]byte(device + "\x00" + os))
	return prefDevice + hex.EncodeToString(h[:8])
}

// PutPageView stores a page view at the store's time; it sets ID and At.
func (s *Store) PutPageView(ctx context.Context, v *PageView, p retention.Periods) error {
	v.ID, v.At = ids.New(ids.Event), s.Now()
	pk := ContactPK(v.TenantID, v.ContactID)
	item, err := attributevalue.MarshalMap(pageViewItem{
		Base: Base{PK: pk, SK: PageViewSK(v.At, v.ID), DataClass: retention.Usage, Entity: "pageView",
			GSI2PK: RetentionKey(v.TenantID, string(retention.Usage), v.At), GSI2SK: RetentionSort(v.At, pk),
			ExpiresAt: retention.ExpiresAt(p, retention.Usage, v.At)},
		PageView: *v,
	})
	if err != nil {
		return wrap("marshal page view", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: item})
	return wrap("put page view", err)
}

// TouchDevice records that a contact used a device and OS now: one item per
// pair, rewritten on each use, so its lastSeenAt, retention index position and
// expiresAt move forward. A held subject's device (an existing item with no
// expiresAt) is rewritten without one. One PutItem in the common case.
func (s *Store) TouchDevice(ctx context.Context, d *Device, p retention.Periods) error {
	now := s.Now()
	pk := ContactPK(d.TenantID, d.ContactID)
	d.LastSeenAt = now
	b := Base{PK: pk, SK: DeviceSK(d.Device, d.OS), DataClass: retention.Technical, Entity: "device",
		GSI2PK: RetentionKey(d.TenantID, string(retention.Technical), now), GSI2SK: RetentionSort(now, pk),
		ExpiresAt: retention.ExpiresAt(p, retention.Technical, now)}
	for _, held := range []bool{false, true} {
		if held {
			b.ExpiresAt = 0
		}
		item, err := attributevalue.MarshalMap(deviceItem{Base: b, Device: *d})
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
func (s *Store) PageViews(ctx context.Context, tenantID, contactID string) ([]PageView, error) {
	var items []pageViewItem
	if err := s.queryLive(ctx, ContactPK(tenantID, contactID), prefPageView, &items); err != nil {
		return nil, wrap("query page views", err)
	}
	out := make([]PageView, len(items))
	for i, it := range items {
		out[i] = it.PageView
	}
	return out, nil
}

// Devices lists a contact's live devices.
func (s *Store) Devices(ctx context.Context, tenantID, contactID string) ([]Device, error) {
	var items []deviceItem
	if err := s.queryLive(ctx, ContactPK(tenantID, contactID), prefDevice, &items); err != nil {
		return nil, wrap("query devices", err)
	}
	out := make([]Device, len(items))
	for i, it := range items {
		out[i] = it.Device
	}
	return out, nil
}
