package adminapi

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/livesupportbot/backend/shared/store"
)

// A cursor is opaque to clients: the tenant, the list it pages (scope) and the
// store's cursor of where the next page starts, as JSON sealed with
// AES-256-GCM (so it can be neither read nor forged: a contact search's store
// cursor is bound to an email), base64url. It is accepted only by the same
// tenant on the same list; the store then checks its own cursor strictly
// against the partition the list reads, so a cursor can never read another
// tenant's data.
type cursorBody struct {
	Tenant string `json:"t"`
	Scope  string `json:"s"`
	Inner  string `json:"i,omitempty"`
}

var errCursor = fieldError("cursor", "not a cursor of this list")

// cursorAEAD is the sealing of cursors under secret.
func cursorAEAD(secret []byte) cipher.AEAD {
	k := sha256.Sum256(append([]byte("cursor-seal:"), secret...))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return g
}

// aead is the sealing of cursors; the request resolved the keys before any
// route runs (serve).
func (a *API) aead() cipher.AEAD {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.keys == nil {
		panic("adminapi: cursor keys used before the platform token was read")
	}
	return a.keys.cursor
}

// encodeCursor mints a cursor around a cursor of the store (nil for "": no next
// page).
func (a *API) encodeCursor(tenantID, scope, inner string) *string {
	if inner == "" {
		return nil
	}
	b, _ := json.Marshal(cursorBody{Tenant: tenantID, Scope: scope, Inner: inner})
	g := a.aead()
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	s := base64.RawURLEncoding.EncodeToString(g.Seal(nonce, nonce, b, nil))
	return &s
}

// decodeCursor checks a cursor against the tenant and scope and returns the
// store's cursor in it ("" for an empty cursor).
func (a *API) decodeCursor(tenantID, scope, cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	var c cursorBody
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	g := a.aead()
	if err != nil || len(raw) < g.NonceSize() {
		return "", errCursor
	}
	b, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], nil)
	if err != nil {
		return "", errCursor
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Tenant != tenantID || c.Scope != scope || c.Inner == "" {
		return "", errCursor
	}
	return c.Inner, nil
}

// page reads the limit and cursor query parameters of a list and returns the
// store's cursor to start from.
func (a *API) page(r *Request, scope string) (int, string, error) {
	limit, err := limitParam(r)
	if err != nil {
		return 0, "", err
	}
	start, err := a.decodeCursor(r.Principal.TenantID, scope, r.Query.Get("cursor"))
	return limit, start, err
}

// listError is the error of a store's list: a store cursor it refuses is the
// same invalid cursor as one the API refuses.
func listError(err error) error {
	if errors.Is(err, store.ErrBadPageCursor) {
		return errCursor
	}
	return err
}

// Page limits of every list.
const (
	DefaultLimit = 25
	MaxLimit     = 100
)

func limitParam(r *Request) (int, error) {
	s := r.Query.Get("limit")
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, fieldError("limit", "must be an integer from 1 to "+strconv.Itoa(MaxLimit))
	}
	return n, nil
}

// List is the shape of every list answer.
type List[T any] struct {
	Items []T     `json:"items"`
	Next  *string `json:"next"`
}
