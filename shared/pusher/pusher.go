// Package pusher sends frames to WebSocket connections through the API Gateway
// management API (@connections) and tells a gone connection (410) apart.
package pusher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
)

// ErrGone is returned when the connection no longer exists.
var ErrGone = errors.New("connection gone")

// Client is the subset of the management API the pusher uses.
type Client interface {
	PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, opts ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error)
	DeleteConnection(ctx context.Context, in *apigatewaymanagementapi.DeleteConnectionInput, opts ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.DeleteConnectionOutput, error)
}

// Pusher posts JSON frames to connections.
type Pusher struct{ c Client }

// New returns a Pusher over c.
func New(c Client) *Pusher { return &Pusher{c: c} }

// NewClient returns a management API client for the endpoint
// "https://{domain}/{stage}" (or a local gateway's URL).
func NewClient(cfg aws.Config, endpoint string) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})
}

// Send posts v, encoded as JSON, to the connection.
func (p *Pusher) Send(ctx context.Context, connectionID string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	_, err = p.c.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(connectionID), Data: data,
	})
	var gone *types.GoneException
	if errors.As(err, &gone) {
		return ErrGone
	}
	if err != nil {
		return fmt.Errorf("post to connection: %w", err)
	}
	return nil
}

// Close closes a connection; a gone one is no error.
func (p *Pusher) Close(ctx context.Context, connectionID string) error {
	_, err := p.c.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(connectionID)})
	var gone *types.GoneException
	if err != nil && !errors.As(err, &gone) {
		return fmt.Errorf("delete connection: %w", err)
	}
	return nil
}

// Endpoints keeps one Pusher per management API endpoint for the life of an
// instance: a fixed endpoint (WS_MANAGEMENT_ENDPOINT) when one is set, else
// the API each request came through. It is safe for concurrent use.
type Endpoints struct {
	newClient func(endpoint string) Client
	fixed     string
	mu        sync.Mutex
	pushers   map[string]*Pusher
}

// NewEndpoints returns the pushers of cfg's management API clients; fixed,
// when not empty, is the endpoint of every request.
func NewEndpoints(cfg aws.Config, fixed string) *Endpoints {
	return newEndpoints(func(ep string) Client { return NewClient(cfg, ep) }, fixed)
}

func newEndpoints(newClient func(endpoint string) Client, fixed string) *Endpoints {
	return &Endpoints{newClient: newClient, fixed: fixed, pushers: map[string]*Pusher{}}
}

// For returns the pusher of the API a WebSocket request came through (its
// requestContext domainName and stage): "https://{domainName}/{stage}", or
// the fixed endpoint.
func (e *Endpoints) For(domainName, stage string) *Pusher {
	ep := e.fixed
	if ep == "" {
		ep = "https://" + domainName + "/" + stage
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p, ok := e.pushers[ep]
	if !ok {
		p = New(e.newClient(ep))
		e.pushers[ep] = p
	}
	return p
}
