package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
)

// The gather, resolve and delete steps of privacy requests: everything the
// store holds about a subject, found by Query on keys only, in both tables.

// Tables an item of a subject was found in, as exports name them.
const (
	TableData    = "data"
	TableArchive = "archive"
)

// heldItem is one stored item about a subject and the table it was found in.
type heldItem struct {
	table string
	attrs map[string]types.AttributeValue
}

func (it heldItem) str(name string) string {
	if v, ok := it.attrs[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func (it heldItem) pk() string { return it.str("PK") }
func (it heldItem) sk() string { return it.str("SK") }

// Holdings is everything the store holds about a subject's contacts: each
// contact's partition in Data and Archive (profile, connections, channel
// identities, conversation pointers, request pointers and whatever else is kept
// under the contact), and the partition of every conversation those pointers
// name (meta, messages, dedupe markers) in both tables.
type Holdings struct {
	ContactIDs      []string
	ConversationIDs []string
	// Emails are the emails of the contact profiles, lower-cased, in the order found.
	Emails []string
	// Channels are the channel identities kept under the contacts
	// (chat.ChannelIdentity values).
	Channels []string
	// Connections are the ids of the contacts' WebSocket connections.
	Connections []string
	// PrivacyRequests are the ids of the requests about the contacts.
	PrivacyRequests []string

	contacts      []heldItem
	conversations []heldItem
}

func (h *Holdings) all() []heldItem {
	return append(append([]heldItem(nil), h.contacts...), h.conversations...)
}

// queryPartition reads the items of one partition whose sort key starts with
// prefix ("": all of them; live ones only when live), strongly consistent: an
// erasure must find what an earlier step of it wrote.
func (s *Store) queryPartition(ctx context.Context, table, pk, prefix string, live bool) ([]heldItem, error) {
	in := s.prefixQuery(pk, prefix, live)
	if table == TableArchive {
		in.TableName = aws.String(s.archive)
	}
	in.ConsistentRead = aws.Bool(true)
	var out []heldItem
	err := s.queryAll(ctx, in, func(m map[string]types.AttributeValue) error {
		out = append(out, heldItem{table: table, attrs: m})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("query %s partition: %w", table, err)
	}
	return out, nil
}

// SubjectHoldings gathers the holdings of the contacts. With live set, items past
// their expiresAt are left out, as every read leaves them out (an export); an
// erasure gathers them too.
func (s *Store) SubjectHoldings(ctx context.Context, tenantID string, contactIDs []string, live bool) (*Holdings, error) {
	h := &Holdings{ContactIDs: contactIDs}
	convs := map[string]bool{}
	var users []heldItem
	for _, c := range contactIDs {
		for _, table := range []string{TableData, TableArchive} {
			items, err := s.queryPartition(ctx, table, ContactPK(tenantID, c), "", live)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				h.note(it, convs)
				if pk := channelUserLookup(tenantID, it); pk != "" {
					found, err := s.queryPartition(ctx, TableData, pk, "", live)
					if err != nil {
						return nil, err
					}
					users = append(users, found...)
				}
			}
			h.contacts = append(h.contacts, items...)
		}
	}
	// A channel user's lookup goes before the contact item that leads to it,
	// so an erasure that stops between the two still finds it next time.
	h.contacts = append(users, h.contacts...)
	for id := range convs {
		h.ConversationIDs = append(h.ConversationIDs, id)
	}
	sort.Strings(h.ConversationIDs)
	for _, v := range h.ConversationIDs {
		for _, table := range []string{TableData, TableArchive} {
			items, err := s.queryPartition(ctx, table, ConversationPK(tenantID, v), "", live)
			if err != nil {
				return nil, err
			}
			h.conversations = append(h.conversations, items...)
		}
	}
	return h, nil
}

// note reads what processing needs off an item of a contact partition, and
// the conversations it names into convs.
func (h *Holdings) note(it heldItem, convs map[string]bool) {
	sk := it.sk()
	if id, ok := strings.CutPrefix(sk, prefConv); ok {
		convs[id] = true
	}
	if sk == SKProfile {
		// chat.Contact carries json tags only, so the attribute has its Go name.
		for _, a := range []string{"OpenConversationID", "openConversationId"} {
			if id := it.str(a); id != "" {
				convs[id] = true
			}
		}
		for _, a := range []string{"Email", "email"} {
			if e := it.str(a); e != "" {
				h.Emails = append(h.Emails, strings.ToLower(e))
			}
		}
	}
	if ci, ok := channelIdentity(it); ok {
		h.Channels = append(h.Channels, ci)
	}
	if id, ok := strings.CutPrefix(sk, prefConn); ok && it.table == TableData {
		h.Connections = append(h.Connections, id)
	}
	if rest, ok := strings.CutPrefix(sk, prefPrivReq); ok {
		// The request id is last: a Slack member's pointer names the member first.
		h.PrivacyRequests = append(h.PrivacyRequests, rest[strings.LastIndexByte(rest, '#')+1:])
	}
}

// Profiles decodes the contact profiles (Data table), each with its id, in the
// order gathered.
func (h *Holdings) Profiles(tenantID string) ([]chat.Contact, error) {
	var out []chat.Contact
	for _, it := range h.contacts {
		if it.sk() != SKProfile || it.table != TableData {
			continue
		}
		var c chat.Contact
		if err := attributevalue.UnmarshalMap(it.attrs, &c); err != nil {
			return nil, fmt.Errorf("decode contact: %w", err)
		}
		c.ID = strings.TrimPrefix(it.pk(), ContactPK(tenantID, ""))
		out = append(out, c)
	}
	return out, nil
}

// channelIdentity reads a channel identity off an item of a contact partition: an
// item with "channel" and "externalId" attributes (the channel adapters' identity
// items), or one whose sort key is IDENT#<channel>#<externalId>.
func channelIdentity(it heldItem) (string, bool) {
	if ch, ext := it.str("channel"), it.str("externalId"); ch != "" && ext != "" {
		return chat.ChannelIdentity(ch, ext), true
	}
	if rest, ok := strings.CutPrefix(it.sk(), "IDENT#"); ok {
		if ch, ext, ok := strings.Cut(rest, "#"); ok && ch != "" && ext != "" {
			return chat.ChannelIdentity(ch, ext), true
		}
	}
	return "", false
}

// channelUserLookup is the partition of the channel user lookup a contact's
// channel user item leads to ("" for any other item).
func channelUserLookup(tenantID string, it heldItem) string {
	if it.table != TableData || !strings.HasPrefix(it.sk(), prefContactUser) {
		return ""
	}
	return TenantPrefix(tenantID) + it.sk()
}

// maxEraseChunk is the most items one transaction of EraseHoldings deletes: a
// transaction holds 100 writes, one of them the request's counts.
const maxEraseChunk = 99

// partition is one partition of one table.
type partition struct{ table, pk string }

// EraseHoldings deletes every item of h for the erasure request id that owner
// holds, and returns the counts it added to the request ("dataItems",
// "archiveItems", "conversations", "connections", "contacts"). Each chunk of
// items is deleted and counted in one transaction, only while owner holds the
// request: an attempt that fails either deleted and counted a chunk or did
// neither, so the counts of a request that needed several attempts are exact, and
// an attempt that lost its lease (ErrPrivacyLeaseLost) deletes nothing more.
//
// Conversations go first (both tables), then the contact partitions that point
// to them, the Archive's before the Data's, and in the Data one the profile (its
// email index entry finds the subject) and the request pointers (they find the
// earlier requests to scrub) last: whatever an attempt leaves, a retry, or a new
// request for the same email, still finds.
func (s *Store) EraseHoldings(ctx context.Context, tenantID, id, owner string, h *Holdings) (map[string]int, error) {
	byPartition := func(items []heldItem) []partition {
		var out []partition
		for _, it := range items {
			p := partition{it.table, it.pk()}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
		return out
	}
	groups := map[partition][]heldItem{}
	for _, it := range h.all() {
		p := partition{it.table, it.pk()}
		groups[p] = append(groups[p], it)
	}
	parts := byPartition(h.conversations)
	for _, table := range []string{TableArchive, TableData} {
		for _, p := range byPartition(h.contacts) {
			if p.table == table {
				parts = append(parts, p)
			}
		}
	}
	added := map[string]int{}
	for _, part := range parts {
		var items, keys []heldItem
		for _, it := range groups[part] {
			if part.table == TableData && (it.sk() == SKProfile || strings.HasPrefix(it.sk(), prefPrivReq)) {
				keys = append(keys, it)
			} else {
				items = append(items, it)
			}
		}
		for _, chunk := range append(eraseChunks(items), eraseChunks(keys)...) {
			n, err := s.deleteCounted(ctx, tenantID, id, owner, part.table, chunk)
			if err != nil {
				return nil, err
			}
			for k, v := range n {
				added[k] += v
			}
		}
	}
	return added, nil
}

// eraseChunks splits items into groups deleteCounted takes.
func eraseChunks(items []heldItem) [][]heldItem {
	var out [][]heldItem
	for start := 0; start < len(items); start += maxEraseChunk {
		out = append(out, items[start:min(start+maxEraseChunk, len(items))])
	}
	return out
}

// deleteCounted deletes items of one table and adds them to the request's counts
// in one transaction, and returns the counts it added.
func (s *Store) deleteCounted(ctx context.Context, tenantID, id, owner, table string, items []heldItem) (map[string]int, error) {
	name := s.data
	if table == TableArchive {
		name = s.archive
	}
	n := map[string]int{table + "Items": len(items)}
	deletes := make([]types.TransactWriteItem, 0, len(items))
	for _, it := range items {
		if it.sk() == SKMeta && table == TableData {
			n["conversations"]++
		}
		if strings.HasPrefix(it.sk(), prefConn) {
			n["connections"]++
		}
		if it.sk() == SKProfile && table == TableData {
			n["contacts"]++
		}
		deletes = append(deletes, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(name), Key: key(it.pk(), it.sk())}})
	}
	if err := s.updatePrivacyRequest(ctx, tenantID, id, owner, chat.PrivacyUpdate{Add: n}, deletes...); err != nil {
		return nil, fmt.Errorf("delete and count: %w", err)
	}
	return n, nil
}

// ExportRow is one stored item as an export shows it: where it is, its class and
// expiry, and its attributes as plain JSON values (numbers as json.Number).
type ExportRow struct {
	Table     string
	Entity    string
	DataClass string
	PK, SK    string
	// ExpiresAt is nil for an item kept without expiry (legal hold).
	ExpiresAt *time.Time
	Data      map[string]any
}

// ExportRows returns every item of h as an export row, in the order gathered.
func (h *Holdings) ExportRows() []ExportRow {
	var out []ExportRow
	for _, it := range h.all() {
		r := ExportRow{Table: it.table, Entity: it.str("entity"), DataClass: it.str("dataClass"), PK: it.pk(), SK: it.sk(),
			Data: map[string]any{}}
		if n, ok := it.attrs["expiresAt"].(*types.AttributeValueMemberN); ok {
			var sec int64
			fmt.Sscan(n.Value, &sec)
			t := time.Unix(sec, 0).UTC()
			r.ExpiresAt = &t
		}
		for k, v := range it.attrs {
			switch k {
			case "PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "dataClass", "expiresAt", "entity":
				continue
			}
			r.Data[k] = plain(v)
		}
		out = append(out, r)
	}
	return out
}

// plain converts an attribute value to plain JSON values.
func plain(v types.AttributeValue) any {
	switch t := v.(type) {
	case *types.AttributeValueMemberS:
		return t.Value
	case *types.AttributeValueMemberN:
		return json.Number(t.Value)
	case *types.AttributeValueMemberBOOL:
		return t.Value
	case *types.AttributeValueMemberNULL:
		return nil
	case *types.AttributeValueMemberB:
		return t.Value
	case *types.AttributeValueMemberSS:
		return t.Value
	case *types.AttributeValueMemberNS:
		out := make([]json.Number, len(t.Value))
		for i, n := range t.Value {
			out[i] = json.Number(n)
		}
		return out
	case *types.AttributeValueMemberBS:
		return t.Value
	case *types.AttributeValueMemberL:
		out := make([]any, len(t.Value))
		for i, e := range t.Value {
			out[i] = plain(e)
		}
		return out
	case *types.AttributeValueMemberM:
		out := make(map[string]any, len(t.Value))
		for k, e := range t.Value {
			out[k] = plain(e)
		}
		return out
	}
	return nil
}
