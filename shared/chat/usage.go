package chat

import "time"

// PageView is one page a visitor looked at: usage data, kept for the usage
// period and never archived. It holds no query string, and the address only as
// its /24 or /48 network.
type PageView struct {
	ID           string    `json:"id"`
	TenantID     string    `json:"-"`
	ContactID    string    `json:"contactId"`
	Path         string    `json:"path"`
	Referrer     string    `json:"referrer,omitempty"`
	Browser      string    `json:"browser,omitempty"`
	IPNetwork    string    `json:"ipNetwork,omitempty"`
	TimeOnPageMs int64     `json:"timeOnPageMs"`
	At           time.Time `json:"at"`
}

// Device is a device and operating system a visitor used: technical data, kept
// for the technical period after it was last seen and never archived.
type Device struct {
	TenantID   string    `json:"-"`
	ContactID  string    `json:"contactId"`
	Device     string    `json:"device"`
	OS         string    `json:"os"`
	LastSeenAt time.Time `json:"lastSeenAt"`
}
