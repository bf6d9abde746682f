package store

import (
	"context"
	"errors"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// Messaging channel integrations (Messenger, Instagram, WhatsApp):
//
//	item           PK                                          SK                GSI2 (retention index)
//	integration    T#t#CHANNELS                                INTEG#<channel>   T#t#RET#personal#<month> / <time>#PK#SK
//	account route  T#_channels#ACCOUNT#<channel>#<accountId>   ROUTE             -
//	webhook route  T#_channels#HOOK#<webhookId>                ROUTE             -   (tenant-credential channels)
//
// A provider's webhook names only its account (a Page id, a phone_number_id),
// so, as with Slack's workspaces, the account is resolved to its tenant
// through a route under a reserved pseudo-tenant, written and deleted with the
// integration. One account belongs to one tenant at a time.
const (
	prefIntegration = "INTEG#"
	skRoute         = "ROUTE"

	// ChannelRoutingTenant is the reserved pseudo-tenant of account routes.
	ChannelRoutingTenant = "_channels"
)

// ChannelsPK is the partition of a tenant's channel integrations.
func ChannelsPK(tenantID string) string { return TenantPrefix(tenantID) + "CHANNELS" }

// WebhookRoutePK is the partition of the route from a webhook id (the URL of
// a tenant-credential channel: Telegram, LINE, Viber) to its tenant.
func WebhookRoutePK(webhookID string) string {
	return TenantPrefix(ChannelRoutingTenant) + "HOOK#" + webhookID
}

// ChannelRoutePK is the partition of the route from a channel account to its tenant.
func ChannelRoutePK(channel, accountID string) string {
	return TenantPrefix(ChannelRoutingTenant) + "ACCOUNT#" + channel + "#" + accountID
}

type integrationRecord struct {
	TenantID       string            `dynamodbav:"tenantId"`
	Channel        string            `dynamodbav:"channel"`
	AccountID      string            `dynamodbav:"accountId"`
	BusinessID     string            `dynamodbav:"businessId,omitempty"`
	TokenEncrypted []byte            `dynamodbav:"tokenEncrypted"`
	HumanAgent     bool              `dynamodbav:"humanAgent,omitempty"`
	WebhookID      string            `dynamodbav:"webhookId,omitempty"`
	WebhookURL     string            `dynamodbav:"webhookUrl,omitempty"`
	AccountName    string            `dynamodbav:"accountName,omitempty"`
	InstalledAt    time.Time         `dynamodbav:"installedAt"`
	Broken         string            `dynamodbav:"broken,omitempty"`
	Settings       map[string]string `dynamodbav:"settings,omitempty"`
}

type integrationItem struct {
	Base
	integrationRecord
}

type routeItem struct {
	Base
	Channel   string `dynamodbav:"channel"`
	AccountID string `dynamodbav:"accountId"`
	TenantID  string `dynamodbav:"tenantId"`
}

// ErrAccountTaken is returned when a channel account is connected to another
// tenant.
var ErrAccountTaken = chat.Errorf(chat.EConflict, "this account is connected to another LiveSupportBot account")

// PutChannelIntegration stores a tenant's integration of a channel and its
// account's route, replacing the tenant's earlier one of that channel (and its
// route, when the account changed). An account of another tenant is
// ErrAccountTaken. Personal data: it expires a personal period after install,
// renewed while it is used (TouchChannelIntegration).
func (s *Store) PutChannelIntegration(ctx context.Context, in *chat.ChannelIntegration, p retention.Periods) error {
	prev, err := s.ChannelIntegration(ctx, in.TenantID, in.Channel)
	if err != nil && !errors.Is(err, chat.ErrNotFound) {
		return err
	}
	exp := retention.ExpiresAt(p, retention.Personal, in.InstalledAt)
	pk, sk := ChannelsPK(in.TenantID), prefIntegration+in.Channel
	integ, err := attributevalue.MarshalMap(integrationItem{
		Base: Base{PK: pk, SK: sk, DataClass: retention.Personal, Entity: "channelIntegration",
			GSI2PK: RetentionKey(in.TenantID, string(retention.Personal), in.InstalledAt, pk),
			GSI2SK: RetentionSort(in.InstalledAt, pk+"#"+sk), ExpiresAt: exp},
		integrationRecord: integrationRecord(*in),
	})
	if err != nil {
		return wrap("marshal channel integration", err)
	}
	route, err := attributevalue.MarshalMap(routeItem{
		Base:    Base{PK: ChannelRoutePK(in.Channel, in.AccountID), SK: skRoute, DataClass: retention.Personal, Entity: "channelRoute", ExpiresAt: exp},
		Channel: in.Channel, AccountID: in.AccountID, TenantID: in.TenantID,
	})
	if err != nil {
		return wrap("marshal channel route", err)
	}
	mine := map[string]types.AttributeValue{":t": str(in.TenantID)}
	tx := []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.data, Item: route,
			ConditionExpression: aws.String("attribute_not_exists(PK) OR tenantId = :t"), ExpressionAttributeValues: mine}},
		{Put: &types.Put{TableName: &s.data, Item: integ}},
	}
	if prev != nil && prev.AccountID != in.AccountID {
		tx = append(tx, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.data, Key: key(ChannelRoutePK(prev.Channel, prev.AccountID), skRoute),
			ConditionExpression: aws.String("attribute_not_exists(PK) OR tenantId = :t"), ExpressionAttributeValues: mine}})
	}
	if in.WebhookID != "" {
		hook, err := attributevalue.MarshalMap(routeItem{
			Base:    Base{PK: WebhookRoutePK(in.WebhookID), SK: skRoute, DataClass: retention.Personal, Entity: "webhookRoute", ExpiresAt: exp},
			Channel: in.Channel, AccountID: in.AccountID, TenantID: in.TenantID,
		})
		if err != nil {
			return wrap("marshal webhook route", err)
		}
		tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: &s.data, Item: hook,
			ConditionExpression: aws.String("attribute_not_exists(PK) OR tenantId = :t"), ExpressionAttributeValues: mine}})
	}
	if prev != nil && prev.WebhookID != "" && prev.WebhookID != in.WebhookID {
		tx = append(tx, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.data, Key: key(WebhookRoutePK(prev.WebhookID), skRoute),
			ConditionExpression: aws.String("attribute_not_exists(PK) OR tenantId = :t"), ExpressionAttributeValues: mine}})
	}
	if _, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx}); err != nil {
		if isConditionFailed(err) {
			return ErrAccountTaken
		}
		return wrap("put channel integration", err)
	}
	return nil
}

func (it *integrationItem) integration() *chat.ChannelIntegration {
	in := chat.ChannelIntegration(it.integrationRecord)
	return &in
}

// ChannelIntegration reads a tenant's integration of a channel; none is
// chat.ErrNotFound.
func (s *Store) ChannelIntegration(ctx context.Context, tenantID, channel string) (*chat.ChannelIntegration, error) {
	var it integrationItem
	ok, err := s.getLive(ctx, ChannelsPK(tenantID), prefIntegration+channel, false, &it)
	if err != nil {
		return nil, wrap("get channel integration", err)
	}
	if !ok || it.TenantID != tenantID {
		return nil, chat.ErrNotFound
	}
	return it.integration(), nil
}

// ChannelIntegrations lists a tenant's channel integrations, by channel name.
func (s *Store) ChannelIntegrations(ctx context.Context, tenantID string) ([]*chat.ChannelIntegration, error) {
	res, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              &s.data,
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		FilterExpression:       aws.String(LiveFilter),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(ChannelsPK(tenantID)), ":p": str(prefIntegration), ":now": s.nowValue()},
	})
	if err != nil {
		return nil, wrap("list channel integrations", err)
	}
	out := make([]*chat.ChannelIntegration, 0, len(res.Items))
	for _, m := range res.Items {
		var it integrationItem
		if err := attributevalue.UnmarshalMap(m, &it); err != nil {
			return nil, wrap("decode channel integration", err)
		}
		out = append(out, it.integration())
	}
	return out, nil
}

// ChannelIntegrationsOf lists a tenant's integration of one channel: none
// or one.
func (s *Store) ChannelIntegrationsOf(ctx context.Context, tenantID, channel string) ([]*chat.ChannelIntegration, error) {
	in, err := s.ChannelIntegration(ctx, tenantID, channel)
	if errors.Is(err, chat.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []*chat.ChannelIntegration{in}, nil
}

// ChannelTenantOfAccount resolves a channel account to the tenant that
// connected it; an unknown account is chat.ErrNotFound.
func (s *Store) ChannelTenantOfAccount(ctx context.Context, channel, accountID string) (string, error) {
	if channel == "" || accountID == "" {
		return "", chat.ErrNotFound
	}
	var it routeItem
	ok, err := s.getLive(ctx, ChannelRoutePK(channel, accountID), skRoute, false, &it)
	if err != nil {
		return "", wrap("get channel route", err)
	}
	if !ok || it.TenantID == "" || it.AccountID != accountID || it.Channel != channel {
		return "", chat.ErrNotFound
	}
	return it.TenantID, nil
}

// ChannelOfWebhook resolves a webhook id to the tenant and channel whose
// integration it is; an unknown id is chat.ErrNotFound.
func (s *Store) ChannelOfWebhook(ctx context.Context, webhookID string) (tenantID, channel string, err error) {
	if webhookID == "" {
		return "", "", chat.ErrNotFound
	}
	var it routeItem
	ok, err := s.getLive(ctx, WebhookRoutePK(webhookID), skRoute, false, &it)
	if err != nil {
		return "", "", wrap("get webhook route", err)
	}
	if !ok || it.TenantID == "" {
		return "", "", chat.ErrNotFound
	}
	return it.TenantID, it.Channel, nil
}

// TouchChannelIntegration moves the expiry of an integration in use and of its
// route to a personal period after at (only forward).
func (s *Store) TouchChannelIntegration(ctx context.Context, in *chat.ChannelIntegration, at time.Time, p retention.Periods) error {
	exp := retention.ExpiresAt(p, retention.Personal, at)
	if exp == 0 {
		return nil
	}
	pk, sk := ChannelsPK(in.TenantID), prefIntegration+in.Channel
	vals := map[string]types.AttributeValue{":exp": &types.AttributeValueMemberN{Value: itoa(exp)}, ":t": str(in.TenantID)}
	touch := func(k map[string]types.AttributeValue, set string, vals map[string]types.AttributeValue) error {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.data, Key: k,
			UpdateExpression: aws.String(set), ConditionExpression: aws.String("tenantId = :t AND expiresAt < :exp"),
			ExpressionAttributeValues: vals})
		if err != nil && !isConditionFailed(err) {
			return wrap("touch channel integration", err)
		}
		return nil
	}
	if err := touch(key(ChannelRoutePK(in.Channel, in.AccountID), skRoute), "SET expiresAt = :exp", vals); err != nil {
		return err
	}
	vals = maps.Clone(vals)
	vals[":g2pk"] = str(RetentionKey(in.TenantID, string(retention.Personal), at, pk))
	vals[":g2sk"] = str(RetentionSort(at, pk+"#"+sk))
	return touch(key(pk, sk), "SET expiresAt = :exp, GSI2PK = :g2pk, GSI2SK = :g2sk", vals)
}

// MarkChannelIntegrationBroken records why a tenant's integration stopped
// working (the provider refused its token); "" clears it.
func (s *Store) MarkChannelIntegrationBroken(ctx context.Context, tenantID, channel, reason string) error {
	upd, vals := "REMOVE broken", map[string]types.AttributeValue{":t": str(tenantID)}
	if reason != "" {
		upd, vals[":r"] = "SET broken = :r", str(reason)
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.data, Key: key(ChannelsPK(tenantID), prefIntegration+channel),
		UpdateExpression: aws.String(upd), ConditionExpression: aws.String("tenantId = :t"), ExpressionAttributeValues: vals})
	if err != nil && !isConditionFailed(err) {
		return wrap("mark channel integration", err)
	}
	return nil
}

// DeleteChannelIntegration removes a tenant's integration of a channel: the
// route first (no more webhooks are routed), then the shared access token
// and the encrypted credentials.
// Nothing connected is no error. Channel users, messages and attachments stay
// with their contacts and conversations.
func (s *Store) DeleteChannelIntegration(ctx context.Context, tenantID, channel string) error {
	in, err := s.ChannelIntegration(ctx, tenantID, channel)
	if errors.Is(err, chat.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.data, Key: key(ChannelRoutePK(channel, in.AccountID), skRoute),
		ConditionExpression:       aws.String("attribute_not_exists(PK) OR tenantId = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(tenantID)}})
	if err != nil && !isConditionFailed(err) {
		return wrap("delete channel route", err)
	}
	if in.WebhookID != "" {
		_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.data, Key: key(WebhookRoutePK(in.WebhookID), skRoute),
			ConditionExpression:       aws.String("attribute_not_exists(PK) OR tenantId = :t"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(tenantID)}})
		if err != nil && !isConditionFailed(err) {
			return wrap("delete webhook route", err)
		}
	}
	if err := s.deleteChannelToken(ctx, tenantID, channel); err != nil {
		return err
	}
	_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.data, Key: key(ChannelsPK(tenantID), prefIntegration+channel)})
	return wrap("delete channel integration", err)
}
