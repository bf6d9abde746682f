// Package pusher sends frames to WebSocket connections through the API Gateway
// management API (@connections) and tells a gone connection (410) apart.
package pusher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
