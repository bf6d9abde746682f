package privacy

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/store"
)

// Table names of a part: where an item was found.
const (
	TableData    = "data"
	TableArchive = "archive"
)

// item is one stored item about the subject and the table it was found in.
type item struct {
	Table string
	Attrs map[string]types.AttributeValue
}

func (it item) str(name string) string {
	if v, ok := it.Attrs[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func (it item) pk() string { return it.str("PK") }
func (it item) sk() string { return it.str("SK") }

// partition is one partition of one table.
type partition struct {
	Table string
	PK    string
}

// holdings is everything the store holds about a subject, found by Query on keys
// only: each contact's partition in Data and Archive (profile, connections,
// channel identities, conversation pointers, request pointers and whatever else
// is kept under the contact), and the partition of every conversation those
// pointers name (meta, messages, dedupe markers) in both tables.
type holdings struct {
	ContactIDs      []string
	ConversationIDs []string
	// Contacts are the items of the contact partitions; Conversations those of the
	// conversation partitions.
	Contacts      []item
	Conversations []item
}

func (h *holdings) all() []item {
	return append(append([]item(nil), h.Contacts...), h.Conversations...)
}

// resolve returns the contact ids of a subject: the given contact id, or every
// contact whose email is the given one (by the GSI1 email key).
func resolve(ctx context.Context, st *store.Store, tenantID string, s *store.PrivacySubject) ([]string, error) {
	if s == nil {
		return nil, nil
	}
	if s.ContactID != "" {
		return []string{s.ContactID}, nil
	}
	var out []string
	p := dynamodb.NewQueryPaginator(st.DB(), &dynamodb.QueryInput{
		TableName: aws.String(st.DataTable()), IndexName: aws.String("GSI1"),
		KeyConditionExpression: aws.String("GSI1PK = :e AND begins_with(GSI1SK, :c)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":e": &types.AttributeValueMemberS{Value: store.EmailKey(tenantID, s.Email)},
			":c": &types.AttributeValueMemberS{Value: "CONTACT#"},
		},
		ProjectionExpression: aws.String("GSI1SK"),
	})
	for p.HasMorePages() {
		res, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query contacts by email: %w", err)
		}
		for _, m := range res.Items {
			if v, ok := m["GSI1SK"].(*types.AttributeValueMemberS); ok {
				out = append(out, strings.TrimPrefix(v.Value, "CONTACT#"))
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// queryPartition reads every item of one partition (live ones only when live).
func queryPartition(ctx context.Context, st *store.Store, p partition, live bool) ([]item, error) {
	table := st.DataTable()
	if p.Table == TableArchive {
		table = st.ArchiveTable()
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(table), KeyConditionExpression: aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: p.PK}},
		ConsistentRead:            aws.Bool(true),
	}
	if live {
		in.FilterExpression = aws.String(store.LiveFilter)
		in.ExpressionAttributeValues[":now"] = &types.AttributeValueMemberN{Value: fmt.Sprint(st.Now().Unix())}
	}
	var out []item
	pg := dynamodb.NewQueryPaginator(st.DB(), in)
	for pg.HasMorePages() {
		res, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query %s partition: %w", p.Table, err)
		}
		for _, m := range res.Items {
			out = append(out, item{Table: p.Table, Attrs: m})
		}
	}
	return out, nil
}

// gather collects the holdings of the contacts. With live set, items past their
// expiresAt are left out, as every read leaves them out.
func gather(ctx context.Context, st *store.Store, tenantID string, contactIDs []string, live bool) (*holdings, error) {
	h := &holdings{ContactIDs: contactIDs}
	convs := map[string]bool{}
	for _, c := range contactIDs {
		for _, table := range []string{TableData, TableArchive} {
			items, err := queryPartition(ctx, st, partition{table, store.ContactPK(tenantID, c)}, live)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				if id, ok := strings.CutPrefix(it.sk(), "CONV#"); ok {
					convs[id] = true
				}
				if it.sk() == store.SKProfile {
					// chat.Contact carries json tags only, so the attribute has its Go name.
					for _, a := range []string{"OpenConversationID", "openConversationId"} {
						if id := it.str(a); id != "" {
							convs[id] = true
						}
					}
				}
			}
			h.Contacts = append(h.Contacts, items...)
		}
	}
	for id := range convs {
		h.ConversationIDs = append(h.ConversationIDs, id)
	}
	sort.Strings(h.ConversationIDs)
	for _, v := range h.ConversationIDs {
		for _, table := range []string{TableData, TableArchive} {
			items, err := queryPartition(ctx, st, partition{table, store.ConversationPK(tenantID, v)}, live)
			if err != nil {
				return nil, err
			}
			h.Conversations = append(h.Conversations, items...)
		}
	}
	return h, nil
}

// identities are the identifiers of a subject that erasure suppresses.
type identities struct {
	Emails   []string
	Contacts []string
	Channels []string // chat.ChannelIdentity values
}

// channelIdentity reads a channel identity off an item of a contact partition: an
// item with "channel" and "externalId" attributes (the channel adapters' identity
// items), or one whose sort key is IDENT#<channel>#<externalId>.
func channelIdentity(it item) (string, bool) {
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

// subjectIdentities lists the subject's identifiers: the request's email, the
// contact ids, the contacts' emails and their channel identities.
func subjectIdentities(subject *store.PrivacySubject, h *holdings) identities {
	var ids identities
	if subject != nil && subject.Email != "" {
		ids.Emails = append(ids.Emails, strings.ToLower(subject.Email))
	}
	ids.Contacts = append(ids.Contacts, h.ContactIDs...)
	for _, it := range h.Contacts {
		if it.sk() == store.SKProfile {
			if e := it.str("Email"); e != "" {
				ids.Emails = append(ids.Emails, strings.ToLower(e))
			}
			if e := it.str("email"); e != "" {
				ids.Emails = append(ids.Emails, strings.ToLower(e))
			}
		}
		if ci, ok := channelIdentity(it); ok {
			ids.Channels = append(ids.Channels, ci)
		}
	}
	for _, l := range []*[]string{&ids.Emails, &ids.Contacts, &ids.Channels} {
		sort.Strings(*l)
		*l = slices.Compact(*l)
	}
	return ids
}

// unmarshalItem decodes an item.
func unmarshalItem(it item, out any) error { return attributevalue.UnmarshalMap(it.Attrs, out) }
