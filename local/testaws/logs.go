package testaws

import (
	"strings"
	"sync"
)

// Logs is a log sink that tests read back, safe for concurrent writers (a
// handler's goroutines, a subprocess's output copier).
type Logs struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *Logs) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Logs) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
