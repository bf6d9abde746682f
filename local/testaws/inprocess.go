package testaws

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/store"
)

// InProcess runs the privacy functions' handlers in this process, each in its
// own goroutine, as Lambda would run them (privacy.Invoker): for tests. Wait waits for
// every started run and returns their errors.
type InProcess struct {
	Handlers map[string]func(ctx context.Context, ev privacy.Event) error

	mu   sync.Mutex
	wg   sync.WaitGroup
	errs []error
}

// InvokeAsync starts the named handler with the decoded event.
func (p *InProcess) InvokeAsync(ctx context.Context, function string, payload []byte) error {
	h, ok := p.Handlers[function]
	if !ok {
		return fmt.Errorf("invoke %s: no such function", function)
	}
	var ev privacy.Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return fmt.Errorf("invoke %s: %w", function, err)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := h(context.WithoutCancel(ctx), ev); err != nil {
			p.mu.Lock()
			p.errs = append(p.errs, err)
			p.mu.Unlock()
		}
	}()
	return nil
}

// Wait waits for the started runs and returns the errors they returned.
func (p *InProcess) Wait() []error {
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]error(nil), p.errs...)
}

// SampleRequest stores what a privacy function's sample event ev names: its
// tenant, a contact with an open widget conversation, and the received
// request of kind typ (chat.PrivacyExport, chat.PrivacyErase) about that
// contact. It returns the tenant and the contact id.
func SampleRequest(tb testing.TB, st *store.Store, ev privacy.Event, typ string) (*chat.Tenant, string) {
	tb.Helper()
	ctx := context.Background()
	tn := &chat.Tenant{ID: ev.TenantID, Name: "Sample", Status: "active", CreatedAt: time.Now().UTC()}
	if err := st.PutTenant(ctx, tn); err != nil {
		tb.Fatal(err)
	}
	contact := ids.New(ids.Contact)
	if _, _, err := st.OpenConversation(ctx, tn.ID, contact, chat.ChannelWidget, tn.Periods()); err != nil {
		tb.Fatal(err)
	}
	now := st.Now()
	if err := st.PutPrivacyRequest(ctx, &chat.PrivacyRequest{ID: ev.RequestID, TenantID: tn.ID, Type: typ,
		Reason: chat.ReasonSubjectRequest, Subject: &chat.PrivacySubject{ContactID: contact}, Status: chat.PrivacyReceived,
		ReceivedAt: now, DueAt: now.Add(chat.PrivacyDue)}); err != nil {
		tb.Fatal(err)
	}
	return tn, contact
}
