package store

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The purge of a closed account at the end of its grace period deletes
// everything the account holds in both tables except the compliance records
// the platform keeps to show it honoured requests, which keep their own
// expiry: privacy requests and tombstones (T#t#PRIVACY), suppression entries
// (T#t#SUPPRESS[#hhh]) and audit events (T#t#AUDIT[#n]). It reaches the
// tenant's items by Query and GetItem only, never a Scan, so its cost follows
// the tenant's items:
//
//   - the retention indexes (personal, communication, usage, technical) list
//     the class items; a contact's profile leads to its whole partition
//     (connections, conversation pointers, page views, devices, channel users
//     and their lookups T#t#CHUSER#..., inbound markers, provider refs, privacy
//     request pointers) and a conversation's meta to its own (messages, dedupe
//     markers, bot state and queries, send records, handoffs, Slack thread and
//     posts, the Slack thread ref T#t#SLACKTHREAD#...). The partition's head
//     (profile, meta) goes last, so an interrupted purge finds it again;
//   - the archive's retention index lists the archived items;
//   - fixed partitions reached by key (PurgeAccountItems): the API keys (their
//     GSI1 list, and keys still in T#t#TENANT), T#t#CHANNELS (integrations and
//     tokens, with their account and webhook routes), T#t#SLACK (installation,
//     members, used OAuth states, with the team route), T#t#AGENTS (agents
//     and their console connections) and the parked
//     deliveries T#t#PARKED#<destination> of the known destinations;
//   - last the sweep state and the profile (which holds the widget key: the
//     widget key mapping is the profile itself).
//
// Rate counters (T#t#RATE#<subject>) are not listed anywhere and live for a
// few minutes at most (their window): TTL removes them.
//
// Items on legal hold are left: an index entry without expiresAt of a kind a
// hold keeps, and the whole partition of a held contact or conversation (its
// head has no expiresAt). Items without expiresAt by design (used OAuth
// states, thread records) go. Every delete of an item read with an expiresAt is conditional on
// it still having one, so a hold placed during the purge wins. Deletes of
// items already gone succeed, so the purge can be repeated.

// purgeAttrs are the attributes the purge reads of an item: its keys, whether
// it is held, and the keys of the items it leads to.
const purgeAttrs = "PK, SK, expiresAt, accountId, channel, webhookId, teamId, channelId, threadTs, tenantId"

// ParkedDestinations are the destinations whose parked deliveries a purge
// deletes by key: dispatch's destination names (Slack, the Meta channels, the
// tenant-credential channels, Zendesk, the bot; functions/dispatch). A test
// keeps the list in step with the bridges' names; a destination added later
// needs its name here, or its parked items wait for their TTL (technical).
var ParkedDestinations = []string{"slack", "meta", "bots", "zendesk", "bot"}

// purgeItem is an item as the purge reads it.
type purgeItem map[string]types.AttributeValue

func (it purgeItem) str(name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func (it purgeItem) hasExpiry() bool { _, ok := it["expiresAt"]; return ok }

// PurgeEntry deletes an item of a closed account found in a retention index
// (or the archive's), with what only it leads to: a contact's or a
// conversation's whole partition, an integration's routes and token. It
// returns how many items it deleted. A held entry is left with its partition.
func (s *Store) PurgeEntry(ctx context.Context, e Entry) (int, error) {
	if e.Held() && e.Holdable {
		return 0, nil
	}
	tenantID := TenantOfKey(e.Ref.pk)
	if e.Archived || e.Ref.table != s.data {
		return s.purgeDelete(ctx, e.Ref.table, purgeItemOf(e))
	}
	switch {
	case e.Ref.sk == SKProfile && strings.HasPrefix(e.Ref.pk, ContactPK(tenantID, "")),
		e.Ref.sk == SKMeta && strings.HasPrefix(e.Ref.pk, ConversationPK(tenantID, "")):
		return s.purgePartition(ctx, tenantID, e.Ref.pk, "", e.Ref.sk)
	case e.Ref.pk == ChannelsPK(tenantID), e.Ref.pk == SlackPK(tenantID):
		// An integration: read it whole for its routes.
		return s.purgePartition(ctx, tenantID, e.Ref.pk, e.Ref.sk, "")
	}
	return s.purgeDelete(ctx, e.Ref.table, purgeItemOf(e))
}

// purgeItemOf is the purge's view of an entry (keys and whether it had an
// expiresAt).
func purgeItemOf(e Entry) purgeItem {
	it := purgeItem{"PK": &types.AttributeValueMemberS{Value: e.Ref.pk}, "SK": &types.AttributeValueMemberS{Value: e.Ref.sk}}
	if !e.Held() {
		it["expiresAt"] = &types.AttributeValueMemberN{Value: itoa(e.ExpiresAt)}
	}
	return it
}

// PurgeAccountItems deletes the closed account's items in the partitions
// reached by key (see above), not the sweep state and the profile. It returns
// how many items it deleted.
func (s *Store) PurgeAccountItems(ctx context.Context, tenantID string) (int, error) {
	n, err := s.purgeAPIKeys(ctx, tenantID)
	if err != nil {
		return n, err
	}
	pks := []string{ChannelsPK(tenantID), SlackPK(tenantID), AgentsPK(tenantID)}
	for _, d := range ParkedDestinations {
		pks = append(pks, ParkedPK(tenantID, d))
	}
	for _, pk := range pks {
		m, err := s.purgePartition(ctx, tenantID, pk, "", "")
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// purgeAPIKeys deletes the tenant's API keys: those in their own partitions,
// listed in GSI1, and those still in the tenant's partition.
func (s *Store) purgeAPIKeys(ctx context.Context, tenantID string) (int, error) {
	items, err := s.purgeQuery(ctx, &dynamodb.QueryInput{TableName: &s.data, IndexName: aws.String("GSI1"),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: APIKeysIndexKey(tenantID)}},
		ProjectionExpression:      aws.String("PK, SK, expiresAt")})
	if err != nil {
		return 0, err
	}
	old, err := s.purgeRead(ctx, TenantPK(tenantID), legacyPrefAPIKey)
	if err != nil {
		return 0, err
	}
	return s.purgeDeleteAll(ctx, s.data, append(items, old...))
}

// purgeRead reads the items of a partition of the Data table whose sort key
// starts with prefix, with the attributes the purge needs.
func (s *Store) purgeRead(ctx context.Context, pk, prefix string) ([]purgeItem, error) {
	in := s.prefixQuery(pk, prefix, false)
	in.ProjectionExpression = aws.String(purgeAttrs)
	return s.purgeQuery(ctx, in)
}

func (s *Store) purgeQuery(ctx context.Context, in *dynamodb.QueryInput) ([]purgeItem, error) {
	var out []purgeItem
	err := s.queryAll(ctx, in, func(it map[string]types.AttributeValue) error {
		out = append(out, purgeItem(it))
		return nil
	})
	return out, wrap("query items to purge", err)
}

// purgePartition deletes the items of partition pk whose sort key starts with
// prefix, each after the items it leads to, and the item with sort key last
// after all the others (none when ""). A held head keeps the partition.
func (s *Store) purgePartition(ctx context.Context, tenantID, pk, prefix, last string) (int, error) {
	items, err := s.purgeRead(ctx, pk, prefix)
	if err != nil {
		return 0, err
	}
	var head purgeItem
	rest := items[:0]
	for _, it := range items {
		if last != "" && it.str("SK") == last {
			head = it
			continue
		}
		rest = append(rest, it)
	}
	if head != nil && !head.hasExpiry() {
		return 0, nil // the contact or conversation is on legal hold: all of it stays
	}
	n, err := s.purgeDeleteAll(ctx, s.data, s.withLinked(tenantID, rest))
	if err != nil || head == nil {
		return n, err
	}
	m, err := s.purgeDelete(ctx, s.data, head)
	return n + m, err
}

// withLinked returns items preceded by the items outside their partitions
// that they lead to: a channel user's lookup, a Slack thread's ref, a channel
// integration's routes and token, the Slack installation's team route. Routes
// are deleted only while they still name the tenant (see purgeDelete).
func (s *Store) withLinked(tenantID string, items []purgeItem) []purgeItem {
	var out []purgeItem
	keyed := func(pk, sk string) purgeItem {
		return purgeItem{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk},
			"tenantId": &types.AttributeValueMemberS{Value: tenantID}}
	}
	for _, it := range items {
		sk := it.str("SK")
		switch {
		case strings.HasPrefix(sk, prefContactUser):
			out = append(out, keyed(TenantPrefix(tenantID)+sk, skChannelUser))
		case sk == skSlackThread && it.str("teamId") != "":
			out = append(out, keyed(SlackThreadRefPK(tenantID, it.str("teamId"), it.str("channelId"), it.str("threadTs")), skSlackThreadRef))
		case strings.HasPrefix(sk, prefIntegration):
			if ch, acc := it.str("channel"), it.str("accountId"); ch != "" && acc != "" {
				out = append(out, route(keyed(ChannelRoutePK(ch, acc), skRoute)))
			}
			if hook := it.str("webhookId"); hook != "" {
				out = append(out, route(keyed(WebhookRoutePK(hook), skRoute)))
			}
		case sk == skSlackIntegration && it.str("teamId") != "":
			out = append(out, route(keyed(SlackRoutePK(it.str("teamId")), skSlackRoute)))
		}
		out = append(out, it)
	}
	return out
}

// routeMark marks an item that is a route under a pseudo-tenant: deleted only
// while it names the tenant (one account belongs to one tenant at a time; it
// may have moved to another since).
const routeMark = "_route"

func route(it purgeItem) purgeItem {
	it[routeMark] = &types.AttributeValueMemberBOOL{Value: true}
	return it
}

// purgeDeleteAll deletes items of table one by one (each conditional, see
// purgeDelete) and returns how many it deleted.
func (s *Store) purgeDeleteAll(ctx context.Context, table string, items []purgeItem) (int, error) {
	n := 0
	for _, it := range items {
		m, err := s.purgeDelete(ctx, table, it)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// purgeDelete deletes one item as read: one read with an expiresAt only if it
// still has one (a hold placed since wins); a route only while it names the
// tenant; one without expiresAt as it is (callers leave out held ones: a held
// index entry, a partition whose head is held). It returns 1 if it deleted an
// item, 0 if the item was gone or kept.
func (s *Store) purgeDelete(ctx context.Context, table string, it purgeItem) (int, error) {
	pk, sk := it.str("PK"), it.str("SK")
	in := &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key(pk, sk), ReturnValues: types.ReturnValueAllOld}
	switch {
	case it[routeMark] != nil:
		in.ConditionExpression = aws.String("tenantId = :t")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":t": it["tenantId"]}
	case it.hasExpiry():
		in.ConditionExpression = aws.String("attribute_exists(expiresAt)")
	}
	res, err := s.db.DeleteItem(ctx, in)
	if isConditionFailed(err) {
		return 0, nil // gone, held since, or a route of another tenant now
	}
	if err != nil {
		return 0, wrap("purge item", err)
	}
	if len(res.Attributes) == 0 {
		return 0, nil
	}
	return 1, nil
}

// DeleteSweep deletes the tenant's sweep state while owner holds its lease:
// the last of a purged account's items but its profile. It reports whether
// the state is gone (false: the lease was lost to another sweep).
func (s *Store) DeleteSweep(ctx context.Context, tenantID, owner string) (bool, error) {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.data, Key: key(TenantPK(tenantID), SKSweep),
		ConditionExpression:       aws.String("attribute_not_exists(PK) OR leaseOwner = :o"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": &types.AttributeValueMemberS{Value: owner}}})
	if isConditionFailed(err) {
		return false, nil
	}
	return err == nil, wrap("delete sweep state", err)
}
