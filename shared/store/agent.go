package store

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
)

// The agents of a tenant and their live console connections share one small
// partition, so the fan-out of a live event and the "is anyone online" check
// are one Query each:
//
//	agent              T#t#AGENTS   AGENT#<agentId>
//	console connection T#t#AGENTS   CONN#<connectionId>
const prefAgent = "AGENT#"

// AgentsPK is the partition of a tenant's agents and console connections.
func AgentsPK(tenantID string) string { return TenantPrefix(tenantID) + "AGENTS" }

type agentItem struct {
	Base
	ID         string    `dynamodbav:"agentId"`
	Name       string    `dynamodbav:"name"`
	LastSeenAt time.Time `dynamodbav:"lastSeenAt"`
}

type agentConnItem struct {
	Base
	chat.AgentConnection
}

// PutAgent records an agent under its name as of now: technical data of the
// tenant's staff, kept the tenant's technical period from its last token.
func (s *Store) PutAgent(ctx context.Context, tenantID, agentID, name string, p retention.Periods) error {
	now := s.Now()
	item, err := attributevalue.MarshalMap(agentItem{
		Base: Base{PK: AgentsPK(tenantID), SK: prefAgent + agentID, DataClass: retention.Technical, Entity: "agent",
			ExpiresAt: retention.ExpiresAt(p, retention.Technical, now)},
		ID: agentID, Name: name, LastSeenAt: now,
	})
	if err != nil {
		return wrap("marshal agent", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: item})
	return wrap("put agent", err)
}

// Agents lists the tenant's agents by name, each with its presence: online
// with a live console connection not set away, away with live connections all
// set away, offline without one. One Query of the agents' partition.
func (s *Store) Agents(ctx context.Context, tenantID string) ([]chat.Agent, error) {
	var agents []chat.Agent
	conns := map[string][]chat.AgentConnection{}
	err := s.queryEach(ctx, AgentsPK(tenantID), "", true, func(it map[string]types.AttributeValue) error {
		sk, _ := it["SK"].(*types.AttributeValueMemberS)
		switch {
		case sk == nil:
		case strings.HasPrefix(sk.Value, prefAgent):
			var a agentItem
			if err := attributevalue.UnmarshalMap(it, &a); err != nil {
				return err
			}
			agents = append(agents, chat.Agent{ID: a.ID, Name: a.Name, LastSeenAt: a.LastSeenAt})
		case strings.HasPrefix(sk.Value, prefConn):
			var c agentConnItem
			if err := attributevalue.UnmarshalMap(it, &c); err != nil {
				return err
			}
			conns[c.AgentID] = append(conns[c.AgentID], c.AgentConnection)
		}
		return nil
	})
	if err != nil {
		return nil, wrap("query agents", err)
	}
	for i := range agents {
		agents[i].State = chat.Presence(conns[agents[i].ID])
	}
	slices.SortFunc(agents, func(a, b chat.Agent) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	return agents, nil
}

// Agent reads one agent (its State is not filled in); missing, expired or
// foreign is chat.ErrNotFound.
func (s *Store) Agent(ctx context.Context, tenantID, agentID string) (*chat.Agent, error) {
	var it agentItem
	ok, err := s.getLive(ctx, AgentsPK(tenantID), prefAgent+agentID, false, &it)
	if err != nil {
		return nil, wrap("get agent", err)
	}
	if !ok {
		return nil, chat.ErrNotFound
	}
	return &chat.Agent{ID: it.ID, Name: it.Name, LastSeenAt: it.LastSeenAt}, nil
}

// PutAgentConnection records a live console connection (online), kept for
// retention.ConnectionTTL at most (technical data).
func (s *Store) PutAgentConnection(ctx context.Context, c *chat.AgentConnection) error {
	item, err := attributevalue.MarshalMap(agentConnItem{
		Base: Base{PK: AgentsPK(c.TenantID), SK: prefConn + c.ID, DataClass: retention.Technical,
			Entity: "agentConnection", ExpiresAt: c.ConnectedAt.Add(retention.ConnectionTTL).Unix()},
		AgentConnection: *c,
	})
	if err != nil {
		return wrap("marshal agent connection", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.data, Item: item})
	return wrap("put agent connection", err)
}

// DeleteAgentConnection removes a console connection; a missing one is no error.
func (s *Store) DeleteAgentConnection(ctx context.Context, tenantID, connectionID string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.data, Key: key(AgentsPK(tenantID), prefConn+connectionID)})
	return wrap("delete agent connection", err)
}

// SetAgentAway sets one console connection away or back online. Only the
// attribute changes, and only on a connection still recorded: a gone one is
// chat.ErrNotFound.
func (s *Store) SetAgentAway(ctx context.Context, tenantID, connectionID string, away bool) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.data, Key: key(AgentsPK(tenantID), prefConn+connectionID),
		UpdateExpression:          aws.String("SET #away = :away"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames:  map[string]string{"#away": attrName(chat.AgentConnection{}, "Away")},
		ExpressionAttributeValues: map[string]types.AttributeValue{":away": &types.AttributeValueMemberBOOL{Value: away}},
	})
	if isConditionFailed(err) {
		return chat.ErrNotFound
	}
	return wrap("set agent away", err)
}

// AgentConnections lists the tenant's live console connections: one Query.
func (s *Store) AgentConnections(ctx context.Context, tenantID string) ([]chat.AgentConnection, error) {
	var items []agentConnItem
	if err := s.queryLive(ctx, AgentsPK(tenantID), prefConn, &items); err != nil {
		return nil, wrap("query agent connections", err)
	}
	out := make([]chat.AgentConnection, len(items))
	for i, it := range items {
		out[i] = it.AgentConnection
		out[i].TenantID = tenantID
	}
	return out, nil
}

// AgentsOnline reports whether any agent of the tenant is online: a live
// console connection not set away.
func (s *Store) AgentsOnline(ctx context.Context, tenantID string) (bool, error) {
	conns, err := s.AgentConnections(ctx, tenantID)
	if err != nil {
		return false, err
	}
	return chat.Presence(conns) == chat.AgentOnline, nil
}
