// Package usage records the usage and technical data the widget reports (privacy
// policy, sections 2 and 4): page views (URL path, referrer, browser, the visitor's
// address truncated to its /24 or /48 network, time on page) as usage items, and
// the visitor's device and operating system as technical items. Both expire with
// their class's period and are never archived.
//
// ws-message calls RecordPageView for a frame
// {"action":"pageView","path":"/pricing","referrer":"https://google.com/","timeOnPageMs":5300}
// with requestContext.identity.sourceIp (and userAgent when present); ws-connect
// may call RecordDevice with the User-Agent of $connect.
package usage

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// Limits of a page view frame.
const (
	MaxPathChars     = 1024
	MaxReferrerChars = 1024
	MaxTimeOnPage    = 24 * time.Hour
)

// PageViewFrame is the WebSocket frame the widget sends when the visitor leaves a
// page (or periodically while on it).
type PageViewFrame struct {
	Action       string `json:"action"`
	Path         string `json:"path"`
	Referrer     string `json:"referrer"`
	TimeOnPageMs int64  `json:"timeOnPageMs"`
	// Consent is true when the visitor consented to usage analytics (the
	// widget's LiveSupportBot.consent(true)); a tenant that requires consent
	// records nothing without it.
	Consent bool `json:"consent"`
}

// Client is what the request context says about the visitor's connection
// (requestContext.identity.sourceIp and userAgent).
type Client struct {
	SourceIP  string
	UserAgent string
}

// Store is what RecordPageView needs of the store.
type Store interface {
	PutPageView(ctx context.Context, v *chat.PageView, p retention.Periods) error
	TouchDevice(ctx context.Context, d *chat.Device, p retention.Periods) error
}

var _ Store = (*store.Store)(nil)

// RecordPageView validates a page view frame and stores it as a usage item, and
// the visitor's device and OS as a technical item. Bad input is a chat.EInvalid
// error and stores nothing. Only the path of the page is kept (never its query
// string or fragment), the referrer without query or fragment, and the address
// as its network.
func RecordPageView(ctx context.Context, st Store, tenant *chat.Tenant, contactID string, f PageViewFrame, c Client) (*chat.PageView, error) {
	path, err := cleanPath(f.Path)
	if err != nil {
		return nil, err
	}
	ref, err := cleanReferrer(f.Referrer)
	if err != nil {
		return nil, err
	}
	if f.TimeOnPageMs < 0 || f.TimeOnPageMs > MaxTimeOnPage.Milliseconds() {
		return nil, chat.Errorf(chat.EInvalid, "timeOnPageMs must be between 0 and %d", MaxTimeOnPage.Milliseconds())
	}
	ua := ParseUserAgent(c.UserAgent)
	p := tenant.Periods()
	v := &chat.PageView{TenantID: tenant.ID, ContactID: contactID, Path: path, Referrer: ref,
		Browser: ua.Browser, IPNetwork: logging.TruncateIP(c.SourceIP), TimeOnPageMs: f.TimeOnPageMs}
	if err := st.PutPageView(ctx, v, p); err != nil {
		return nil, err
	}
	if err := RecordDevice(ctx, st, tenant, contactID, c.UserAgent); err != nil {
		return nil, err
	}
	return v, nil
}

// RecordDevice stores the device and OS a User-Agent header names as a technical
// item of the contact (nothing when it names neither). API Gateway passes the
// User-Agent at $connect (headers and requestContext.identity.userAgent), so
// ws-connect calls this there; later frames carry only the source IP.
func RecordDevice(ctx context.Context, st Store, tenant *chat.Tenant, contactID, userAgent string) error {
	ua := ParseUserAgent(userAgent)
	if ua.OS == "" && ua.Device == "" {
		return nil
	}
	return st.TouchDevice(ctx, &chat.Device{TenantID: tenant.ID, ContactID: contactID, Device: ua.Device, OS: ua.OS}, tenant.Periods())
}

// cleanPath returns the path of a page: a path as given, or the path of an
// absolute URL, without query string or fragment.
func cleanPath(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || !utf8.ValidString(s) {
		return "", chat.Errorf(chat.EInvalid, "path is required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", chat.Errorf(chat.EInvalid, "path is not a URL path")
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if !strings.HasPrefix(p, "/") || (u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https") {
		return "", chat.Errorf(chat.EInvalid, "path is not a URL path")
	}
	if len(p) > MaxPathChars {
		return "", chat.Errorf(chat.EInvalid, "path is longer than %d characters", MaxPathChars)
	}
	return p, nil
}

// cleanReferrer returns scheme, host and path of a referrer ("" stays ""),
// dropping user info, query string and fragment, which may carry personal data.
func cleanReferrer(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !utf8.ValidString(s) {
		return "", chat.Errorf(chat.EInvalid, "referrer must be an http(s) URL")
	}
	out := u.Scheme + "://" + strings.ToLower(u.Host) + u.EscapedPath()
	if len(out) > MaxReferrerChars {
		return "", chat.Errorf(chat.EInvalid, "referrer is longer than %d characters", MaxReferrerChars)
	}
	return out, nil
}

// Tenants gives the tenant of a frame (store.TenantCache in ws-message).
type Tenants interface {
	Tenant(ctx context.Context, id string) (*chat.Tenant, error)
}

// HookStore is what Hook needs of the store: recording, and the erasure list.
type HookStore interface {
	Store
	IsSuppressed(ctx context.Context, tenantID, kind, value string) (bool, error)
}

// Hook returns the wsmessage.Handler.PageView hook: it decodes a pageView frame
// and records it with the source IP and User-Agent of the request context.
//
// A tenant that requires consent (chat.Tenant.ConsentRequired) gets nothing
// from a frame without "consent": true, and a visitor whose data was erased
// (an open connection, or a token that outlived the erasure) records nothing:
// both are refused with a clear error.
func Hook(st HookStore, tenants Tenants) func(ctx context.Context, tenantID, visitorID string, frame json.RawMessage, rc events.APIGatewayWebsocketProxyRequestContext) error {
	return func(ctx context.Context, tenantID, visitorID string, frame json.RawMessage, rc events.APIGatewayWebsocketProxyRequestContext) error {
		var f PageViewFrame
		if err := json.Unmarshal(frame, &f); err != nil {
			return chat.Errorf(chat.EInvalid, "frame is not a pageView object")
		}
		t, err := tenants.Tenant(ctx, tenantID)
		if err != nil {
			return err
		}
		if t.ConsentRequired() && !f.Consent {
			return chat.Errorf(chat.EInvalid, "usage analytics wait for the visitor's consent")
		}
		erased, err := st.IsSuppressed(ctx, tenantID, chat.SuppressContact, visitorID)
		if err != nil {
			return err
		}
		if erased {
			return chat.Errorf(chat.EUnauthorized, "this visitor's data was erased; start a new session")
		}
		_, err = RecordPageView(ctx, st, t, visitorID, f, Client{SourceIP: rc.Identity.SourceIP, UserAgent: rc.Identity.UserAgent})
		return err
	}
}
