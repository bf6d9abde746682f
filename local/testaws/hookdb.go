package testaws

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/store"
)

// ErrInjectedTimeout is the error a HookDB hook returns to play a call that
// never completed (a Lambda timeout or a stalled table between two writes).
var ErrInjectedTimeout = errors.New("injected fault: request timed out")

// HookDB is a store.Client that runs Hook before each call it forwards. A hook
// can fail the call (its error is returned and the call is not sent) or run
// another caller to completion first: a deterministic way to put a partial
// failure or an interleaving of two Lambda instances between any two DynamoDB
// calls (moto's backends are not thread-safe, so tests do not race goroutines
// against one server for this).
type HookDB struct {
	store.Client
	// Hook sees the call's context, name ("PutItem", "UpdateItem", ...) and
	// input; nil lets every call through.
	Hook func(ctx context.Context, call string, in any) error
	// Serialize sends one call at a time, so that each request is applied
	// atomically, as DynamoDB applies it (moto's backends are not thread-safe:
	// concurrent requests can lose each other's writes). Concurrent callers
	// still interleave between their calls.
	Serialize bool
	mu        sync.Mutex
}

// before runs the hook and, when calls are serialized, takes the lock that
// the returned function releases.
func (h *HookDB) before(ctx context.Context, call string, in any) (func(), error) {
	if h.Hook != nil {
		if err := h.Hook(ctx, call, in); err != nil {
			return nil, err
		}
	}
	if !h.Serialize {
		return func() {}, nil
	}
	h.mu.Lock()
	return h.mu.Unlock, nil
}

// GetItem runs the hook, then the call.
func (h *HookDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	done, err := h.before(ctx, "GetItem", in)
	if err != nil {
		return nil, err
	}
	defer done()
	return h.Client.GetItem(ctx, in, opts...)
}

// PutItem runs the hook, then the call.
func (h *HookDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	done, err := h.before(ctx, "PutItem", in)
	if err != nil {
		return nil, err
	}
	defer done()
	return h.Client.PutItem(ctx, in, opts...)
}

// UpdateItem runs the hook, then the call.
func (h *HookDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	done, err := h.before(ctx, "UpdateItem", in)
	if err != nil {
		return nil, err
	}
	defer done()
	return h.Client.UpdateItem(ctx, in, opts...)
}

// DeleteItem runs the hook, then the call.
func (h *HookDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	done, err := h.before(ctx, "DeleteItem", in)
	if err != nil {
		return nil, err
	}
	defer done()
	return h.Client.DeleteItem(ctx, in, opts...)
}

// Query runs the hook, then the call.
func (h *HookDB) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	done, err := h.before(ctx, "Query", in)
	if err != nil {
		return nil, err
	}
	defer done()
	return h.Client.Query(ctx, in, opts...)
}

// TransactWriteItems runs the hook, then the call.
func (h *HookDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	done, err := h.before(ctx, "TransactWriteItems", in)
	if err != nil {
		return nil, err
	}
	defer done()
	return h.Client.TransactWriteItems(ctx, in, opts...)
}

// BatchWriteItem runs the hook, then the call.
func (h *HookDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	done, err := h.before(ctx, "BatchWriteItem", in)
	if err != nil {
		return nil, err
	}
	defer done()
	return h.Client.BatchWriteItem(ctx, in, opts...)
}

// BatchGetItem runs the hook, then the call.
func (h *HookDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	done, err := h.before(ctx, "BatchGetItem", in)
	if err != nil {
		return nil, err
	}
	defer done()
	return h.Client.BatchGetItem(ctx, in, opts...)
}

// IsMessagePut reports whether a call is the PutItem of a message item (sort
// key MSG#...), the second write of an ingest.
func IsMessagePut(call string, in any) bool {
	p, ok := in.(*dynamodb.PutItemInput)
	if call != "PutItem" || !ok {
		return false
	}
	sk, ok := p.Item["SK"].(*types.AttributeValueMemberS)
	return ok && strings.HasPrefix(sk.Value, "MSG#")
}

// FailFirstMessagePut returns a hook that fails the first message PutItem with
// ErrInjectedTimeout (after the dedupe marker before it was written) and lets
// every other call through.
func FailFirstMessagePut() func(ctx context.Context, call string, in any) error {
	var failed atomic.Bool
	return func(_ context.Context, call string, in any) error {
		if IsMessagePut(call, in) && failed.CompareAndSwap(false, true) {
			return ErrInjectedTimeout
		}
		return nil
	}
}
