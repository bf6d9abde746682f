package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// The Slack bridge's items in the Data table:
//
//	item               PK                                    SK                        GSI2 (retention index)
//	slack integration  T#t#SLACK                             INTEGRATION               T#t#RET#personal#<month> / <time>#PK
//	slack member       T#t#SLACK                             MEMBER#<teamId>#<userId>  T#t#RET#personal#<month> / <time>#PK#SK
//	                   (teamId, userId, displayName; only of a member who replied as an agent)
//	used oauth state   T#t#SLACK                             STATE#<nonce>             -
//	slack team route   T#_slack#TEAM#<teamId>                ROUTE                     -
//	slack thread       T#t#CONV#v                            SLACK#THREAD              -
//	slack thread ref   T#t#SLACKTHREAD#<team>#<chan>#<ts>    THREAD                    -
//	slack post         T#t#CONV#v                            SLACK#POST#<messageId>    -   (ts set once posted)
//
// The team route is the one item not under a real tenant: Slack sends every
// event of the app to one URL and names only the workspace (team_id), so the
// workspace must be resolved to a tenant before any tenant partition can be
// read. It lives under the reserved pseudo-tenant "_slack" (ids never contain
// '_', so no real tenant can own that prefix), holds only the team id and the
// tenant id, and is written and deleted together with the integration.
const (
	skSlackIntegration = "INTEGRATION"
	prefSlackMember    = "MEMBER#"
	prefSlackState     = "STATE#"
	skSlackRoute       = "ROUTE"
	skSlackThread      = "SLACK#THREAD"
	skSlackThreadRef   = "THREAD"
	prefSlackPost      = "SLACK#POST#"
	prefSlack          = "SLACK#"

	// SlackRoutingTenant is the reserved pseudo-tenant of the team routes.
	SlackRoutingTenant = "_slack"
)

// SlackPK is the tenant's Slack partition: the integration, the member items
// and the used OAuth states.
func SlackPK(tenantID string) string { return TenantPrefix(tenantID) + "SLACK" }

// SlackMemberSK is the sort key, in SlackPK, of the member item of a Slack
// user (team, user): "MEMBER#<teamId>#<userId>". Every writer and reader of
// member items builds the key here, so a person's item can be found by it.
func SlackMemberSK(teamID, userID string) string { return prefSlackMember + teamID + "#" + userID }

// SlackRoutePK is the partition of the route from a Slack workspace to its tenant.
func SlackRoutePK(teamID string) string { return TenantPrefix(SlackRoutingTenant) + "TEAM#" + teamID }

// SlackThreadRefPK is the partition that maps a Slack thread to a conversation.
func SlackThreadRefPK(tenantID, teamID, channelID, threadTS string) string {
	return TenantPrefix(tenantID) + "SLACKTHREAD#" + teamID + "#" + channelID + "#" + threadTS
}

// The stored forms of the Slack domain types (shared/chat/slack.go): the same
// fields, with the attribute names. A record converts to and from its domain
// type with a plain conversion.
type slackIntegrationRecord struct {
	TenantID       string    `dynamodbav:"tenantId"`
	TeamID         string    `dynamodbav:"teamId"`
	TeamName       string    `dynamodbav:"teamName,omitempty"`
	ChannelID      string    `dynamodbav:"channelId"`
	ChannelName    string    `dynamodbav:"channelName,omitempty"`
	BotUserID      string    `dynamodbav:"botUserId"`
	AppID          string    `dynamodbav:"appId,omitempty"`
	InstalledBy    string    `dynamodbav:"installedBy,omitempty"`
	InstalledAt    time.Time `dynamodbav:"installedAt"`
	TokenEncrypted []byte    `dynamodbav:"tokenEncrypted"`
	ExpiresAt      int64     `dynamodbav:"-"` // Base's expiresAt, as read
}

// slackMemberRecord is all a member item holds: the member and the name its
// replies show.
type slackMemberRecord struct {
	TeamID      string `dynamodbav:"teamId"`
	UserID      string `dynamodbav:"userId"`
	DisplayName string `dynamodbav:"displayName,omitempty"`
}

// legacySlackProfile names the attributes that member items written before
// the bridge kept names only may still hold (the whole users.list profile):
// read so such an item's name still shows, never written, and removed by
// StripSlackMemberProfiles.
type legacySlackProfile struct {
	Name     string `dynamodbav:"name,omitempty"`
	RealName string `dynamodbav:"realName,omitempty"`
}

// legacySlackProfileAttrs are the attribute names of legacySlackProfile and the
// legacy email and image URL.
var legacySlackProfileAttrs = []string{"email", "imageUrl", "realName", "name"}

type slackThreadRecord struct {
	TenantID       string `dynamodbav:"tenantId"`
	ConversationID string `dynamodbav:"conversationId"`
	ContactID      string `dynamodbav:"contactId"`
	Channel        string `dynamodbav:"channel"`
	TeamID         string `dynamodbav:"teamId"`
	ChannelID      string `dynamodbav:"channelId"`
	ThreadTS       string `dynamodbav:"threadTs"`
}

type slackPostRecord struct {
	MessageID string `dynamodbav:"messageId"`
	ContactID string `dynamodbav:"contactId"`
	ChannelID string `dynamodbav:"channelId"`
	ThreadTS  string `dynamodbav:"threadTs,omitempty"`
	TS        string `dynamodbav:"ts,omitempty"`
}

type slackIntegrationItem struct {
	Base
	slackIntegrationRecord
}

type slackMemberItem struct {
	Base
	slackMemberRecord
}

// slackMemberRead is a member item as read, with what a legacy item may hold.
type slackMemberRead struct {
	slackMemberItem
	legacySlackProfile
}

// member is the domain form of a read item; a legacy item without a display
// name shows its real name, else its user name (as replies did when it was
// written).
func (it *slackMemberRead) member() *chat.SlackMember {
	name := it.DisplayName
	for _, n := range []string{it.RealName, it.Name} {
		if name == "" {
			name = n
		}
	}
	return &chat.SlackMember{TeamID: it.TeamID, UserID: it.UserID, DisplayName: name, ExpiresAt: it.Base.ExpiresAt}
}

type slackRouteItem struct {
	Base
	TeamID   string `dynamodbav:"teamId"`
	TenantID string `dynamodbav:"tenantId"`
}

type slackThreadItem struct {
	Base
	slackThreadRecord
}

type slackPostItem struct {
	Base
	slackPostRecord
}

// ErrSlackTeamTaken is returned when a Slack workspace is already connected to
// another tenant.
var ErrSlackTeamTaken = chat.Errorf(chat.EConflict, "this Slack workspace is connected to another account")

// PutSlackIntegration stores a tenant's Slack installation and the route of its
// workspace, replacing an earlier installation of the same tenant and removing
// its member items (an install stores no member: names are learnt from
// replies). A workspace connected to another tenant is ErrSlackTeamTaken.
func (s *Store) PutSlackIntegration(ctx context.Context, in *chat.SlackIntegration, p retention.Periods) error {
	prev, err := s.SlackIntegration(ctx, in.TenantID)
	if err != nil && !errors.Is(err, chat.ErrNotFound) {
		return err
	}
	exp := retention.ExpiresAt(p, retention.Personal, in.InstalledAt)
	pk := SlackPK(in.TenantID)
	integ, err := attributevalue.MarshalMap(slackIntegrationItem{
		Base: Base{PK: pk, SK: skSlackIntegration, DataClass: retention.Personal, Entity: "slackIntegration",
			GSI2PK: RetentionKey(in.TenantID, string(retention.Personal), in.InstalledAt, pk),
			GSI2SK: RetentionSort(in.InstalledAt, pk+"#"+skSlackIntegration), ExpiresAt: exp},
		slackIntegrationRecord: slackIntegrationRecord(*in),
	})
	if err != nil {
		return wrap("marshal slack integration", err)
	}
	route, err := attributevalue.MarshalMap(slackRouteItem{
		Base:   Base{PK: SlackRoutePK(in.TeamID), SK: skSlackRoute, DataClass: retention.Personal, Entity: "slackRoute", ExpiresAt: exp},
		TeamID: in.TeamID, TenantID: in.TenantID,
	})
	if err != nil {
		return wrap("marshal slack route", err)
	}
	tx := []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.data, Item: route,
			ConditionExpression:       aws.String("attribute_not_exists(PK) OR tenantId = :t"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: in.TenantID}}}},
		{Put: &types.Put{TableName: &s.data, Item: integ}},
	}
	if prev != nil && prev.TeamID != in.TeamID {
		tx = append(tx, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.data, Key: key(SlackRoutePK(prev.TeamID), skSlackRoute),
			ConditionExpression:       aws.String("attribute_not_exists(PK) OR tenantId = :t"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: in.TenantID}}}})
	}
	if _, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx}); err != nil {
		if isConditionFailed(err) {
			return ErrSlackTeamTaken
		}
		return wrap("put slack integration", err)
	}
	return s.deleteSlackMembers(ctx, in.TenantID)
}

// slackMemberBase is the keys, class and retention of a member item whose
// personal-data period runs from at.
func slackMemberBase(tenantID, teamID, userID string, at time.Time, p retention.Periods) Base {
	pk, sk := SlackPK(tenantID), SlackMemberSK(teamID, userID)
	return Base{PK: pk, SK: sk, DataClass: retention.Personal, Entity: "slackMember",
		GSI2PK: RetentionKey(tenantID, string(retention.Personal), at, pk),
		GSI2SK: RetentionSort(at, pk+"#"+sk), ExpiresAt: retention.ExpiresAt(p, retention.Personal, at)}
}

// slackMemberAttrs is the whole stored form of a member item: base and the
// team, user and display name of m, nothing else.
func slackMemberAttrs(base Base, m *chat.SlackMember) (map[string]types.AttributeValue, error) {
	it, err := attributevalue.MarshalMap(slackMemberItem{Base: base,
		slackMemberRecord: slackMemberRecord{TeamID: m.TeamID, UserID: m.UserID, DisplayName: m.DisplayName}})
	return it, wrap("marshal slack member", err)
}

// PutSlackMember stores or replaces the member item of a Slack user who
// replied as an agent at time at: the team, the user and the display name
// (empty when unknown), with a personal-data period from at. It replaces the
// whole item, so a legacy item loses its other profile attributes.
func (s *Store) PutSlackMember(ctx context.Context, tenantID string, m *chat.SlackMember, at time.Time, p retention.Periods) error {
	it, err := slackMemberAttrs(slackMemberBase(tenantID, m.TeamID, m.UserID, at, p), m)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: it})
	return wrap("put slack member", err)
}

// RenameSlackMember sets the display name of a member item that already
// exists (Slack's user_change) and reports whether it changed it. A member
// with no item gets none: the write is conditioned on the item existing, so a
// rename never stores a member who did not reply, not even racing a delete.
// The item keeps its retention (a rename is not the member acting) and is
// rewritten whole (PutItem, as webhook-slack's policy allows no UpdateItem),
// so a legacy item loses its other profile attributes too.
func (s *Store) RenameSlackMember(ctx context.Context, tenantID, teamID, userID, displayName string) (bool, error) {
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.data,
		Key: key(SlackPK(tenantID), SlackMemberSK(teamID, userID)), ConsistentRead: aws.Bool(true)})
	if err != nil || res.Item == nil {
		return false, wrap("get slack member", err)
	}
	var old slackMemberRead
	if err := attributevalue.UnmarshalMap(res.Item, &old); err != nil {
		return false, wrap("unmarshal slack member", err)
	}
	if old.DisplayName == displayName && !hasLegacyProfile(res.Item) {
		return false, nil
	}
	it, err := slackMemberAttrs(old.Base, &chat.SlackMember{TeamID: teamID, UserID: userID, DisplayName: displayName})
	if err != nil {
		return false, err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: it,
		ConditionExpression: aws.String("attribute_exists(PK)")})
	if isConditionFailed(err) {
		return false, nil
	}
	return err == nil, wrap("rename slack member", err)
}

// hasLegacyProfile reports whether a member item holds any attribute of the
// old full profile.
func hasLegacyProfile(item map[string]types.AttributeValue) bool {
	for _, a := range legacySlackProfileAttrs {
		if _, ok := item[a]; ok {
			return true
		}
	}
	return false
}

// DeleteSlackMember removes one member item; a missing one is no error.
func (s *Store) DeleteSlackMember(ctx context.Context, tenantID, teamID, userID string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.data, Key: key(SlackPK(tenantID), SlackMemberSK(teamID, userID))})
	return wrap("delete slack member", err)
}

// StripSlackMemberProfiles rewrites the tenant's member items written before
// the bridge kept names only: those holding an email, an image URL, a real
// name or a user name lose them, and keep the name their replies show as
// displayName. It reads the tenant's member items (one Query, expired ones
// included: they still hold the data until TTL removes them), updates only
// those, each conditioned on still existing and still holding a legacy
// attribute (an item renamed or deleted meanwhile is left as it is), and
// returns how many it changed. Run again, it changes nothing.
func (s *Store) StripSlackMemberProfiles(ctx context.Context, tenantID string) (int, error) {
	var legacy []slackMemberRead
	in := s.prefixQuery(SlackPK(tenantID), prefSlackMember, false)
	in.FilterExpression = aws.String(legacyFilter)
	in.ExpressionAttributeNames = legacyNames()
	err := s.queryAll(ctx, in, func(m map[string]types.AttributeValue) error {
		var it slackMemberRead
		if err := attributevalue.UnmarshalMap(m, &it); err != nil {
			return fmt.Errorf("unmarshal slack member: %w", err)
		}
		legacy = append(legacy, it)
		return nil
	})
	if err != nil {
		return 0, wrap("query slack members", err)
	}
	n := 0
	for i := range legacy {
		ok, err := s.stripSlackMember(ctx, &legacy[i])
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// legacyFilter holds an item with any legacy profile attribute (#a0.. are
// legacySlackProfileAttrs).
const legacyFilter = "attribute_exists(#a0) OR attribute_exists(#a1) OR attribute_exists(#a2) OR attribute_exists(#a3)"

func legacyNames() map[string]string {
	names := map[string]string{}
	for i, a := range legacySlackProfileAttrs {
		names["#a"+itoa(int64(i))] = a
	}
	return names
}

// stripSlackMember removes the legacy attributes of one member item and sets
// its displayName to the name it showed; false when the item is gone or was
// rewritten meanwhile.
func (s *Store) stripSlackMember(ctx context.Context, it *slackMemberRead) (bool, error) {
	in := &dynamodb.UpdateItemInput{TableName: &s.data, Key: key(it.PK, it.SK),
		UpdateExpression:         aws.String("REMOVE #a0, #a1, #a2, #a3"),
		ConditionExpression:      aws.String("attribute_exists(PK) AND (" + legacyFilter + ")"),
		ExpressionAttributeNames: legacyNames()}
	if name := it.member().DisplayName; name != it.DisplayName {
		in.UpdateExpression = aws.String("SET displayName = :n REMOVE #a0, #a1, #a2, #a3")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":n": &types.AttributeValueMemberS{Value: name}}
	}
	_, err := s.db.UpdateItem(ctx, in)
	if isConditionFailed(err) {
		return false, nil
	}
	return err == nil, wrap("strip slack member", err)
}

// chat.SlackIntegration reads a tenant's Slack installation; none is chat.ErrNotFound.
func (s *Store) SlackIntegration(ctx context.Context, tenantID string) (*chat.SlackIntegration, error) {
	var it slackIntegrationItem
	ok, err := s.getLive(ctx, SlackPK(tenantID), skSlackIntegration, false, &it)
	if err != nil {
		return nil, wrap("get slack integration", err)
	}
	if !ok || it.TenantID != tenantID {
		return nil, chat.ErrNotFound
	}
	in := chat.SlackIntegration(it.slackIntegrationRecord)
	in.ExpiresAt = it.Base.ExpiresAt
	return &in, nil
}

// TouchSlackIntegration moves the expiresAt of a tenant's installation and of
// its workspace route to a personal-data period after at, so an integration in
// use does not expire (personal data lives while the account is active). Only
// items still present are touched.
func (s *Store) TouchSlackIntegration(ctx context.Context, in *chat.SlackIntegration, at time.Time, p retention.Periods) error {
	exp := &types.AttributeValueMemberN{Value: itoa(retention.ExpiresAt(p, retention.Personal, at))}
	pk := SlackPK(in.TenantID)
	for _, k := range []struct {
		key  map[string]types.AttributeValue
		set  string
		vals map[string]types.AttributeValue
	}{
		{key(pk, skSlackIntegration), "SET expiresAt = :exp, GSI2PK = :g2pk, GSI2SK = :g2sk", map[string]types.AttributeValue{
			":exp": exp, ":t": &types.AttributeValueMemberS{Value: in.TenantID},
			":g2pk": &types.AttributeValueMemberS{Value: RetentionKey(in.TenantID, string(retention.Personal), at, pk)},
			":g2sk": &types.AttributeValueMemberS{Value: RetentionSort(at, pk+"#"+skSlackIntegration)}}},
		{key(SlackRoutePK(in.TeamID), skSlackRoute), "SET expiresAt = :exp", map[string]types.AttributeValue{
			":exp": exp, ":t": &types.AttributeValueMemberS{Value: in.TenantID}}},
	} {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.data, Key: k.key,
			UpdateExpression: aws.String(k.set), ConditionExpression: aws.String("tenantId = :t AND expiresAt < :exp"),
			ExpressionAttributeValues: k.vals})
		if err != nil && !isConditionFailed(err) {
			return wrap("touch slack integration", err)
		}
	}
	return nil
}

// SlackTenantOfTeam resolves a Slack workspace to the tenant that installed the
// app there; an unknown workspace is chat.ErrNotFound.
func (s *Store) SlackTenantOfTeam(ctx context.Context, teamID string) (string, error) {
	if teamID == "" {
		return "", chat.ErrNotFound
	}
	var it slackRouteItem
	ok, err := s.getLive(ctx, SlackRoutePK(teamID), skSlackRoute, false, &it)
	if err != nil {
		return "", wrap("get slack route", err)
	}
	if !ok || it.TenantID == "" || it.TeamID != teamID {
		return "", chat.ErrNotFound
	}
	return it.TenantID, nil
}

// DeleteSlackIntegration removes a tenant's installation, with its encrypted
// token, its workspace route and its member items. Nothing installed is no
// error. Threads and post records stay with their conversations (communication
// data, kept and erased with them). Each step is idempotent, so a retry after a
// failure finishes the job: the route goes first (no more events are routed),
// then the token, then the member items.
func (s *Store) DeleteSlackIntegration(ctx context.Context, tenantID string) error {
	in, err := s.SlackIntegration(ctx, tenantID)
	if err != nil && !errors.Is(err, chat.ErrNotFound) {
		return err
	}
	if in != nil {
		_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.data, Key: key(SlackRoutePK(in.TeamID), skSlackRoute),
			ConditionExpression:       aws.String("attribute_not_exists(PK) OR tenantId = :t"), // another tenant's route stays
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: tenantID}}})
		if err != nil && !isConditionFailed(err) {
			return wrap("delete slack route", err)
		}
		if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.data, Key: key(SlackPK(tenantID), skSlackIntegration)}); err != nil {
			return wrap("delete slack integration", err)
		}
	}
	return s.deleteSlackMembers(ctx, tenantID)
}

func (s *Store) deleteSlackMembers(ctx context.Context, tenantID string) error {
	keys, err := s.queryKeys(ctx, SlackPK(tenantID), prefSlackMember)
	if err != nil {
		return wrap("query slack members", err)
	}
	var reqs []types.WriteRequest
	for _, k := range keys {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
	}
	return wrap("delete slack members", s.batchWrite(ctx, reqs))
}

// SlackMember reads a member item; an unknown member is chat.ErrNotFound.
func (s *Store) SlackMember(ctx context.Context, tenantID, teamID, userID string) (*chat.SlackMember, error) {
	var it slackMemberRead
	ok, err := s.getLive(ctx, SlackPK(tenantID), SlackMemberSK(teamID, userID), false, &it)
	if err != nil {
		return nil, wrap("get slack member", err)
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	return it.member(), nil
}

// SlackMembers lists the tenant's live member items.
func (s *Store) SlackMembers(ctx context.Context, tenantID string) ([]chat.SlackMember, error) {
	var out []chat.SlackMember
	err := s.queryEach(ctx, SlackPK(tenantID), prefSlackMember, true, func(item map[string]types.AttributeValue) error {
		var it slackMemberRead
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return err
		}
		out = append(out, *it.member())
		return nil
	})
	return out, wrap("query slack members", err)
}

// chat.SlackThread returns the Slack thread of a conversation; none is chat.ErrNotFound.
func (s *Store) SlackThread(ctx context.Context, tenantID, convID string) (*chat.SlackThread, error) {
	var it slackThreadItem
	ok, err := s.getLive(ctx, ConversationPK(tenantID, convID), skSlackThread, true, &it)
	if err != nil {
		return nil, wrap("get slack thread", err)
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	th := chat.SlackThread(it.slackThreadRecord)
	return &th, nil
}

// SlackThreadByTS resolves a Slack thread (workspace, channel, parent ts) to its
// conversation; an unknown thread is chat.ErrNotFound.
func (s *Store) SlackThreadByTS(ctx context.Context, tenantID, teamID, channelID, threadTS string) (*chat.SlackThread, error) {
	var it slackThreadItem
	ok, err := s.getLive(ctx, SlackThreadRefPK(tenantID, teamID, channelID, threadTS), skSlackThreadRef, false, &it)
	if err != nil {
		return nil, wrap("get slack thread ref", err)
	}
	if !ok || it.TenantID != tenantID {
		return nil, chat.ErrNotFound
	}
	th := chat.SlackThread(it.slackThreadRecord)
	return &th, nil
}

// PutSlackThread records the Slack thread of a conversation and its reverse
// lookup. It writes only if the conversation has no thread yet, or has one in
// another workspace or channel (the app was reinstalled elsewhere); otherwise it
// returns the thread already recorded and false.
func (s *Store) PutSlackThread(ctx context.Context, th *chat.SlackThread, at time.Time, p retention.Periods) (*chat.SlackThread, bool, error) {
	exp := retention.ExpiresAt(p, retention.Communication, at)
	cpk := ConversationPK(th.TenantID, th.ConversationID)
	main, err := attributevalue.MarshalMap(slackThreadItem{
		Base:              Base{PK: cpk, SK: skSlackThread, DataClass: retention.Communication, Entity: "slackThread", ExpiresAt: exp},
		slackThreadRecord: slackThreadRecord(*th),
	})
	if err != nil {
		return nil, false, wrap("marshal slack thread", err)
	}
	ref, err := attributevalue.MarshalMap(slackThreadItem{
		Base: Base{PK: SlackThreadRefPK(th.TenantID, th.TeamID, th.ChannelID, th.ThreadTS), SK: skSlackThreadRef,
			DataClass: retention.Communication, Entity: "slackThreadRef", ExpiresAt: exp},
		slackThreadRecord: slackThreadRecord(*th),
	})
	if err != nil {
		return nil, false, wrap("marshal slack thread ref", err)
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.data, Item: main,
			ConditionExpression: aws.String("attribute_not_exists(PK) OR teamId <> :team OR channelId <> :chan"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":team": &types.AttributeValueMemberS{Value: th.TeamID},
				":chan": &types.AttributeValueMemberS{Value: th.ChannelID},
			}}},
		{Put: &types.Put{TableName: &s.data, Item: ref}},
	}})
	if err == nil {
		return th, true, nil
	}
	if !isConditionFailed(err) {
		return nil, false, wrap("put slack thread", err)
	}
	won, err := s.SlackThread(ctx, th.TenantID, th.ConversationID)
	if err != nil {
		return nil, false, err
	}
	return won, false, nil
}

// chat.SlackPost reads the record of a posted message; none is chat.ErrNotFound.
func (s *Store) SlackPost(ctx context.Context, tenantID, convID, messageID string) (*chat.SlackPost, error) {
	var it slackPostItem
	ok, err := s.getLive(ctx, ConversationPK(tenantID, convID), prefSlackPost+messageID, true, &it)
	if err != nil {
		return nil, wrap("get slack post", err)
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	sp := chat.SlackPost(it.slackPostRecord)
	return &sp, nil
}

// BeginSlackPost records that a message is about to be posted (no ts yet),
// once. If a record exists it is returned with false: with a ts the message was
// posted; without one an earlier attempt may or may not have posted it.
func (s *Store) BeginSlackPost(ctx context.Context, tenantID, convID string, sp *chat.SlackPost, at time.Time, p retention.Periods) (*chat.SlackPost, bool, error) {
	rec := *sp
	rec.TS = ""
	item, err := attributevalue.MarshalMap(slackPostItem{
		Base: Base{PK: ConversationPK(tenantID, convID), SK: prefSlackPost + sp.MessageID, DataClass: retention.Communication,
			Entity: "slackPost", ExpiresAt: retention.ExpiresAt(p, retention.Communication, at)},
		slackPostRecord: slackPostRecord(rec),
	})
	if err != nil {
		return nil, false, wrap("marshal slack post", err)
	}
	// This attempt's own mark: the SDK's resend of this write finds it and
	// is this attempt (no lookup in Slack); a retry of the delivery writes
	// another and finds the earlier record.
	item[attrWriteMark] = newMark()
	begun, _, err := s.putNewOrOld(ctx, item)
	if err != nil {
		return nil, false, wrap("put slack post", err)
	}
	if begun {
		return &rec, true, nil
	}
	prev, err := s.SlackPost(ctx, tenantID, convID, sp.MessageID)
	if err != nil {
		return nil, false, err
	}
	return prev, false, nil
}

// FinishSlackPost sets the ts of a begun post record. It returns false, changing
// nothing, when the record already has a ts (another attempt finished first).
func (s *Store) FinishSlackPost(ctx context.Context, tenantID, convID, messageID, ts string) (bool, error) {
	done := map[string]types.AttributeValue{"ts": &types.AttributeValueMemberS{Value: ts}}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.data,
		Key:                                 key(ConversationPK(tenantID, convID), prefSlackPost+messageID),
		UpdateExpression:                    aws.String("SET ts = :ts"),
		ConditionExpression:                 aws.String("attribute_exists(PK) AND attribute_not_exists(ts)"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":ts": done["ts"]},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var cf *types.ConditionalCheckFailedException
	if asCondition(err, &cf) {
		// Slack's ts names one post: finding ours is the SDK's resend of this
		// write, not a concurrent attempt's post (whose caller would delete ours).
		return wroteBefore(cf.Item, done), nil
	}
	return err == nil, wrap("finish slack post", err)
}

// SlackItemsOfContact finds, by Query, everything the bridge recorded about the
// conversations of a contact, expired or not (for erasure).
func (s *Store) SlackItemsOfContact(ctx context.Context, tenantID, contactID string) ([]chat.SlackConversationItems, error) {
	var convIDs []string
	err := s.queryEach(ctx, ContactPK(tenantID, contactID), prefConv, false, func(item map[string]types.AttributeValue) error {
		var ptr conversationPointer
		if err := attributevalue.UnmarshalMap(item, &ptr); err != nil {
			return err
		}
		convIDs = append(convIDs, ptr.ConversationID)
		return nil
	})
	if err != nil {
		return nil, wrap("query conversation pointers", err)
	}
	var out []chat.SlackConversationItems
	for _, cv := range convIDs {
		ci := chat.SlackConversationItems{ConversationID: cv}
		err := s.queryEach(ctx, ConversationPK(tenantID, cv), prefSlack, false, func(item map[string]types.AttributeValue) error {
			sk, _ := item["SK"].(*types.AttributeValueMemberS)
			if sk != nil && sk.Value == skSlackThread {
				var it slackThreadItem
				if err := attributevalue.UnmarshalMap(item, &it); err != nil {
					return err
				}
				th := chat.SlackThread(it.slackThreadRecord)
				ci.Thread = &th
				return nil
			}
			var it slackPostItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return err
			}
			ci.Posts = append(ci.Posts, chat.SlackPost(it.slackPostRecord))
			return nil
		})
		if err != nil {
			return nil, wrap("query slack items of conversation", err)
		}
		if ci.Thread != nil || len(ci.Posts) > 0 {
			out = append(out, ci)
		}
	}
	return out, nil
}

// DeleteSlackPost removes the record of one posted message.
func (s *Store) DeleteSlackPost(ctx context.Context, tenantID, convID, messageID string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.data,
		Key: key(ConversationPK(tenantID, convID), prefSlackPost+messageID)})
	return wrap("delete slack post", err)
}

// DeleteSlackThread removes a conversation's thread record and its reverse lookup.
func (s *Store) DeleteSlackThread(ctx context.Context, th *chat.SlackThread) error {
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &s.data, Key: key(ConversationPK(th.TenantID, th.ConversationID), skSlackThread)}},
		{Delete: &types.Delete{TableName: &s.data, Key: key(SlackThreadRefPK(th.TenantID, th.TeamID, th.ChannelID, th.ThreadTS), skSlackThreadRef)}},
	}})
	return wrap("delete slack thread", err)
}

// queryKeys returns the keys of the items of a partition whose SK starts with prefix.
func (s *Store) queryKeys(ctx context.Context, pk, prefix string) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	err := s.queryEach(ctx, pk, prefix, false, func(item map[string]types.AttributeValue) error {
		out = append(out, map[string]types.AttributeValue{"PK": item["PK"], "SK": item["SK"]})
		return nil
	})
	return out, err
}

// batchWrite writes requests 25 at a time, resending unprocessed ones.
func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	for len(reqs) > 0 {
		n := min(25, len(reqs))
		batch := reqs[:n]
		reqs = reqs[n:]
		for attempt := 0; len(batch) > 0; attempt++ {
			if attempt > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
				}
			}
			if attempt == 8 {
				return errUnprocessed
			}
			res, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.data: batch}})
			if err != nil {
				return err
			}
			batch = res.UnprocessedItems[s.data]
		}
	}
	return nil
}

var errUnprocessed = errors.New("batch write left unprocessed items")

// LastPagePath returns the path of the contact's latest live page view (the
// widget's usage data in the contact's partition), or "". It reads one item: a
// Query backwards with Limit 1 (an expired latest view gives "").
func (s *Store) LastPagePath(ctx context.Context, tenantID, contactID string) (string, error) {
	var items []struct {
		Path string `dynamodbav:"path"`
	}
	if _, err := s.queryPage(ctx, ContactPK(tenantID, contactID), prefPageView, true, 1, nil, &items); err != nil {
		return "", wrap("query last page view", err)
	}
	if len(items) == 0 {
		return "", nil
	}
	return items[0].Path, nil
}

// ClaimSlackState records that an OAuth state (by its nonce) was used, once: a
// second claim returns false (see claimState).
func (s *Store) ClaimSlackState(ctx context.Context, tenantID, nonce string, stateExpiry time.Time, p retention.Periods) (bool, error) {
	return s.claimState(ctx, Base{PK: SlackPK(tenantID), SK: prefSlackState + nonce, Entity: "slackOAuthState"}, stateExpiry, p)
}
