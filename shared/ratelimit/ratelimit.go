// Package ratelimit limits how fast a visitor, an admin API key or a client
// network may call, with a burst and a sustained rate (docs/CONTRACT.md, "Rate
// limits"; docs/ARCHITECTURE.md, "Rate limits").
//
// A limit of burst B and rate R per minute is enforced with fixed windows of
// W = (B/2)/R each admitting B/2 requests: one DynamoDB counter item per
// (tenant, subject, bucket, window), updated by one conditional UpdateItem
// (store.TakeRate). A D-long span meets at most D/W+2 windows, so it admits at
// most R·D + B requests, whatever the alignment; a subject that was quiet for a
// window may always send B/2 at once. The state lives only in DynamoDB, so the
// limit holds across every Lambda instance and concurrent invocation.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/store"
)

// Buckets: the visitor frames that are counted (each action its own budget),
// an admin API key's requests, and widget sessions per client network.
const (
	SendMessage = "sendMessage"
	Typing      = "typing"
	History     = "history"
	Identify    = "identify"
	PageView    = "pageView"
	APIKey      = "apiKey"
	Session     = "session"
)

// Defaults are the platform's limits: the visitor frames' suit a human typing
// in one or a few tabs; an API key's a busy console or integration; a
// network's many visitors behind one NAT opening the widget at once.
var Defaults = map[string]chat.RateLimit{
	SendMessage: {Burst: 20, PerMinute: 30},
	Typing:      {Burst: 30, PerMinute: 60},
	History:     {Burst: 20, PerMinute: 30},
	Identify:    {Burst: 6, PerMinute: 6},
	PageView:    {Burst: 20, PerMinute: 30},
	APIKey:      {Burst: 300, PerMinute: 1800},
	Session:     {Burst: 120, PerMinute: 600},
}

// The range of a tenant's override (0 means the platform default).
const (
	MinBurst     = 2
	MaxBurst     = 10000
	MinPerMinute = 1
	MaxPerMinute = 60000
)

// FrameBucket returns the bucket of a frame's action, and false for frames
// that are not counted: ping (no storage, and the widget's keep-alive) and
// anything unknown (answered with an error, storing nothing). Presence frames
// (a read, like history) share the history budget.
func FrameBucket(action string) (string, bool) {
	switch action {
	case SendMessage, Typing, History, Identify, PageView:
		return action, true
	case "presence":
		return History, true
	}
	return "", false
}

// Effective returns the tenant's limit of a bucket: its override's non-zero
// fields, the platform default for the others. t may be nil (the operator).
func Effective(t *chat.Tenant, bucket string) chat.RateLimit {
	l := Defaults[bucket]
	if t == nil {
		return l
	}
	var o chat.RateLimit
	switch bucket {
	case SendMessage:
		o = t.RateLimits.SendMessage
	case Typing:
		o = t.RateLimits.Typing
	case History:
		o = t.RateLimits.History
	case Identify:
		o = t.RateLimits.Identify
	case PageView:
		o = t.RateLimits.PageView
	case APIKey:
		o = t.RateLimits.APIKey
	}
	if o.Burst > 0 {
		l.Burst = o.Burst
	}
	if o.PerMinute > 0 {
		l.PerMinute = o.PerMinute
	}
	return l
}

// EffectiveAll returns every tenant-settable limit in effect.
func EffectiveAll(t *chat.Tenant) chat.RateLimits {
	return chat.RateLimits{
		SendMessage: Effective(t, SendMessage), Typing: Effective(t, Typing), History: Effective(t, History),
		Identify: Effective(t, Identify), PageView: Effective(t, PageView), APIKey: Effective(t, APIKey),
	}
}

// Validate checks a tenant's overrides and returns the failing fields
// ("sendMessage.burst": "...").
func Validate(r chat.RateLimits) map[string]string {
	issues := map[string]string{}
	for name, l := range map[string]chat.RateLimit{
		SendMessage: r.SendMessage, Typing: r.Typing, History: r.History,
		Identify: r.Identify, PageView: r.PageView, APIKey: r.APIKey,
	} {
		if l.Burst != 0 && (l.Burst < MinBurst || l.Burst > MaxBurst) {
			issues[name+".burst"] = fmt.Sprintf("must be 0 (platform default) or between %d and %d", MinBurst, MaxBurst)
		}
		if l.PerMinute != 0 && (l.PerMinute < MinPerMinute || l.PerMinute > MaxPerMinute) {
			issues[name+".perMinute"] = fmt.Sprintf("must be 0 (platform default) or between %d and %d", MinPerMinute, MaxPerMinute)
		}
	}
	return issues
}

// Window returns the fixed window that enforces l: its length and how many
// requests it admits (half the burst, at least 1). The length is rounded up to
// whole milliseconds, so the sustained rate never exceeds l.PerMinute.
func Window(l chat.RateLimit) (time.Duration, int) {
	n := max(l.Burst/2, 1)
	perMinute := max(l.PerMinute, 1)
	ms := (int64(n)*time.Minute.Milliseconds() + int64(perMinute) - 1) / int64(perMinute)
	return time.Duration(max(ms, 1)) * time.Millisecond, n
}

// Error is a request over its limit: a chat.Error with code rate_limited,
// and when to retry.
type Error struct {
	RetryAfter time.Duration
	err        *chat.Error
}

func (e *Error) Error() string { return e.err.Error() }

// Unwrap gives the chat.Error, so chat.ErrorCode and ErrorMessage see it.
func (e *Error) Unwrap() error { return e.err }

// RetryAfterSeconds returns the whole seconds (at least 1) to wait before
// retrying, when err is a rate-limit error.
func RetryAfterSeconds(err error) (int, bool) {
	var e *Error
	if !errors.As(err, &e) {
		return 0, false
	}
	return max(int(math.Ceil(e.RetryAfter.Seconds())), 1), true
}

// Counters is the storage of the counters (*store.Store).
type Counters interface {
	Now() time.Time
	RateCounter(tenantID, subject, bucket string, window time.Duration, index int64) store.RateCounter
	TakeRate(ctx context.Context, c store.RateCounter, limit int, windowEnd time.Time) (bool, error)
}

var _ Counters = (*store.Store)(nil)

// Limiter counts requests in the store.
type Limiter struct {
	store Counters
}

// fullKey names a counter under one limit in the memory of full windows.
type fullKey struct {
	counter store.RateCounter
	limit   int
}

// full remembers, for this process (one Lambda instance), the counters that
// DynamoDB refused and until when their window lasts. A counter only grows
// within its window, so a window once full stays full: refusing from memory
// until it ends refuses exactly what DynamoDB would, without the write. Each
// instance learns it once per window; a flood costs one write per instance
// and window instead of one per frame.
var full = &fullWindows{m: map[fullKey]time.Time{}}

type fullWindows struct {
	mu sync.Mutex
	m  map[fullKey]time.Time
}

// until returns the end of a counter's full window, if it is known and not past.
func (f *fullWindows) until(key fullKey, now time.Time) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	end, ok := f.m[key]
	return end, ok && now.Before(end)
}

// add remembers a full window; past ones are dropped when the map grows.
func (f *fullWindows) add(key fullKey, end, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.m) >= 4096 {
		for k, e := range f.m {
			if !now.Before(e) {
				delete(f.m, k)
			}
		}
	}
	f.m[key] = end
}

// New returns a limiter over st; it reads the time from st's clock.
func New(st Counters) *Limiter { return &Limiter{store: st} }

// Take counts one request of subject (store.VisitorRateSubject, ...) in a
// bucket under limit l: nil when it is within the limit, an *Error when it is
// not (nothing is counted then), another error when the store failed. It costs
// one conditional UpdateItem of a counter item under 1 KB, 1 WCU, admitted or
// refused, except a refusal in a window this instance already saw full, which
// costs nothing.
func (l *Limiter) Take(ctx context.Context, tenantID, subject, bucket string, lim chat.RateLimit) error {
	w, n := Window(lim)
	now := l.store.Now()
	index := now.UnixMilli() / w.Milliseconds()
	end := time.UnixMilli((index + 1) * w.Milliseconds())
	counter := l.store.RateCounter(tenantID, subject, bucket, w, index)
	key := fullKey{counter: counter, limit: n}
	if _, known := full.until(key, now); !known {
		ok, err := l.store.TakeRate(ctx, counter, n, end)
		if err != nil {
			return fmt.Errorf("rate limit %s: %w", bucket, err)
		}
		if ok {
			return nil
		}
		full.add(key, end, now)
	}
	wait := end.Sub(now)
	return &Error{RetryAfter: wait, err: chat.Errorf(chat.ERateLimited,
		"too many %s requests: at most %d in a burst and %d a minute; retry in %d s",
		bucket, lim.Burst, lim.PerMinute, max(int(math.Ceil(wait.Seconds())), 1))}
}
