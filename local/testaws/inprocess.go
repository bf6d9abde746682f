package testaws

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/livesupportbot/backend/shared/privacy"
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
