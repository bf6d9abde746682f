package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// The bot's items, in the conversation's partition (export, erasure and
// legal holds reach them with the conversation):
//
//	item        PK              SK                  class
//	bot state   T#t#CONV#conv   BOT                 communication (people, reason, at)
//	bot query   T#t#CONV#conv   BOTQ#<message id>   technical     (asked / answered)
//
// The query marker is claimed before a visitor's message is sent to the
// bot's provider (Dialogflow's detectIntent is not idempotent): a
// redelivery of the message finds it and does not ask again.
const (
	skBotState     = "BOT"
	prefBotQuery   = "BOTQ#"
	prefOAuthNonce = "OAUTHSTATE#"
)

// Bot query states.
const (
	BotAsked    = "asked"
	BotAnswered = "answered"
)

type botStateItem struct {
	Base
	People bool   `dynamodbav:"people"`
	Reason string `dynamodbav:"reason,omitempty"`
	At     string `dynamodbav:"at,omitempty"`
}

// BotState reads who answers a conversation (zero: the bot).
func (s *Store) BotState(ctx context.Context, tenantID, convID string) (*chat.BotState, error) {
	var it botStateItem
	ok, err := s.getLive(ctx, ConversationPK(tenantID, convID), skBotState, true, &it)
	if err != nil || !ok {
		return &chat.BotState{}, wrap("get bot state", err)
	}
	at, _ := time.Parse(timeKey, it.At)
	return &chat.BotState{People: it.People, Reason: it.Reason, At: at}, nil
}

// HandToPeople records that people answer the conversation from now on,
// and why; it reports whether this call did (an earlier handoff stays, with
// its reason).
func (s *Store) HandToPeople(ctx context.Context, tenantID, convID, reason string, at time.Time, p retention.Periods) (bool, error) {
	item, err := attributevalue.MarshalMap(botStateItem{
		Base: Base{PK: ConversationPK(tenantID, convID), SK: skBotState, DataClass: retention.Communication, Entity: "botState",
			ExpiresAt: retention.ExpiresAt(p, retention.Communication, DayEnd(at))},
		People: true, Reason: reason, At: TimeKey(at),
	})
	if err != nil {
		return false, wrap("marshal bot state", err)
	}
	// This handoff's own mark: the SDK's resend of this write finds it and is
	// this handoff; another one writes another mark and is refused.
	item[attrWriteMark] = newMark()
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: item,
		ConditionExpression:                 aws.String("attribute_not_exists(PK) OR people = :f"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":f": &types.AttributeValueMemberBOOL{Value: false}},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var cf *types.ConditionalCheckFailedException
	if asCondition(err, &cf) {
		return wroteBefore(cf.Item, markOf(item[attrWriteMark])), nil
	}
	return err == nil, wrap("put bot state", err)
}

type botQueryItem struct {
	Base
	State string `dynamodbav:"state"`
	At    string `dynamodbav:"at"`
}

// ClaimBotQuery records that the visitor's message messageID is about to be
// asked of the bot, unless it was before: it reports whether this call
// claimed it, and else the earlier claim's state and time.
func (s *Store) ClaimBotQuery(ctx context.Context, tenantID, convID, messageID string, at time.Time, p retention.Periods) (bool, string, time.Time, error) {
	item, err := attributevalue.MarshalMap(botQueryItem{
		Base: Base{PK: ConversationPK(tenantID, convID), SK: prefBotQuery + messageID, DataClass: retention.Technical, Entity: "botQuery",
			ExpiresAt: retention.ExpiresAt(p, retention.Technical, at)},
		State: BotAsked, At: TimeKey(at),
	})
	if err != nil {
		return false, "", time.Time{}, wrap("marshal bot query", err)
	}
	// This claim's own mark: the SDK's resend of this write finds it and is
	// this claim; a redelivery of the message writes another and is refused.
	item[attrWriteMark] = newMark()
	claimed, old, err := s.putNewOrOld(ctx, item)
	if err != nil {
		return false, "", time.Time{}, wrap("put bot query", err)
	}
	if claimed {
		return true, BotAsked, at, nil
	}
	var prev botQueryItem
	if old != nil {
		err = attributevalue.UnmarshalMap(old, &prev)
	} else {
		_, err = s.getLive(ctx, ConversationPK(tenantID, convID), prefBotQuery+messageID, true, &prev)
	}
	prevAt, _ := time.Parse(timeKey, prev.At)
	return false, prev.State, prevAt, wrap("read bot query", err)
}

// AnswerBotQuery records that the bot's answer to messageID is stored.
func (s *Store) AnswerBotQuery(ctx context.Context, tenantID, convID, messageID string) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.data,
		Key: key(ConversationPK(tenantID, convID), prefBotQuery+messageID), UpdateExpression: aws.String("SET #s = :a"),
		ConditionExpression: aws.String("attribute_exists(PK)"), ExpressionAttributeNames: map[string]string{"#s": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": str(BotAnswered)}})
	if isConditionFailed(err) {
		return nil
	}
	return wrap("answer bot query", err)
}

// ClaimOAuthState records that an OAuth state of a channel's install (by its
// nonce) was used, once: a second claim returns false (see claimState).
func (s *Store) ClaimOAuthState(ctx context.Context, tenantID, channel, nonce string, stateExpiry time.Time, p retention.Periods) (bool, error) {
	return s.claimState(ctx, Base{PK: ChannelsPK(tenantID), SK: prefOAuthNonce + channel + "#" + nonce, Entity: "oauthState"}, stateExpiry, p)
}
