package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// A conversation handed to a help desk:
//
//	item      PK              SK                 class
//	handoff   T#t#CONV#conv   HANDOFF#<desk>     communication (ticket id, requester id, who, when)
//
// It lives in the conversation's partition, so it goes wherever the
// conversation goes (export, erasure, legal hold); the desk's webhook names
// the conversation through the ticket's external id.
const prefHandoff = "HANDOFF#"

type handoffItem struct {
	Base
	chat.Handoff
}

// PutHandoff records h unless the conversation was handed to that desk
// already: it returns the handoff that is recorded and whether this call
// recorded it. It expires with the conversation's communication period
// counted from now.
func (s *Store) PutHandoff(ctx context.Context, h *chat.Handoff, p retention.Periods) (*chat.Handoff, bool, error) {
	pk := ConversationPK(h.TenantID, h.ConversationID)
	item, err := attributevalue.MarshalMap(handoffItem{
		Base: Base{PK: pk, SK: prefHandoff + h.To, DataClass: retention.Communication, Entity: "handoff",
			ExpiresAt: retention.ExpiresAt(p, retention.Communication, DayEnd(h.At))},
		Handoff: *h,
	})
	if err != nil {
		return nil, false, wrap("marshal handoff", err)
	}
	created, _, err := s.putNewOrOld(ctx, item)
	if err != nil {
		return nil, false, wrap("put handoff", err)
	}
	if !created {
		prev, err := s.Handoff(ctx, h.TenantID, h.ConversationID, h.To)
		return prev, false, err
	}
	return h, true, nil
}

// Handoff reads a conversation's handoff to a desk; none is chat.ErrNotFound.
func (s *Store) Handoff(ctx context.Context, tenantID, convID, desk string) (*chat.Handoff, error) {
	var it handoffItem
	ok, err := s.getLive(ctx, ConversationPK(tenantID, convID), prefHandoff+desk, true, &it)
	if err != nil {
		return nil, wrap("get handoff", err)
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	h := it.Handoff
	h.TenantID = tenantID
	return &h, nil
}
