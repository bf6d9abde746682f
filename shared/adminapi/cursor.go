package adminapi

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/shared/store"
)

// A cursor is opaque to clients: the tenant, the list it pages (scope) and where
// the next page starts, as JSON sealed with AES-256-GCM (so it can be neither
// read nor forged: a contact search's key holds an email), base64url. It is
// accepted only by the same tenant on the same list, and every key in it must
// start with the tenant's prefix, so a cursor can never read another tenant's
// data.
type cursorBody struct {
	Tenant string            `json:"t"`
	Scope  string            `json:"s"`
	Key    map[string]string `json:"k,omitempty"`
	Inner  string            `json:"i,omitempty"`
}

var errCursor = fieldError("cursor", "not a cursor of this list")

func (a *API) aead() cipher.AEAD {
	k := sha256.Sum256(append([]byte("cursor-seal:"), a.cursorKey...))
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

// encodeCursor mints the cursor of the page after lek (nil: no next page).
func (a *API) encodeCursor(tenantID, scope string, lek map[string]types.AttributeValue) *string {
	if len(lek) == 0 {
		return nil
	}
	k := make(map[string]string, len(lek))
	for name, v := range lek {
		s, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			return nil // every key attribute of the Data table is a string
		}
		k[name] = s.Value
	}
	return a.mint(cursorBody{Tenant: tenantID, Scope: scope, Key: k})
}

// encodeInner mints a cursor around a cursor of the store (e.g. History's).
func (a *API) encodeInner(tenantID, scope, inner string) *string {
	if inner == "" {
		return nil
	}
	return a.mint(cursorBody{Tenant: tenantID, Scope: scope, Inner: inner})
}

func (a *API) mint(c cursorBody) *string {
	b, _ := json.Marshal(c)
	g := a.aead()
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	s := base64.RawURLEncoding.EncodeToString(g.Seal(nonce, nonce, b, nil))
	return &s
}

// decodeCursor checks a cursor against the tenant and scope and returns the key to
// start from (nil for an empty cursor).
func (a *API) decodeCursor(tenantID, scope, cursor string) (map[string]types.AttributeValue, error) {
	if cursor == "" {
		return nil, nil
	}
	c, err := a.open(tenantID, scope, cursor)
	if err != nil || len(c.Key) == 0 {
		return nil, errCursor
	}
	prefix := store.TenantPrefix(tenantID)
	out := make(map[string]types.AttributeValue, len(c.Key))
	for name, v := range c.Key {
		if (name == "PK" || strings.HasSuffix(name, "PK")) && !strings.HasPrefix(v, prefix) {
			return nil, errCursor
		}
		out[name] = &types.AttributeValueMemberS{Value: v}
	}
	if _, ok := out["PK"]; !ok {
		return nil, errCursor
	}
	return out, nil
}

// decodeInner checks a cursor minted by encodeInner and returns the inner cursor.
func (a *API) decodeInner(tenantID, scope, cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	c, err := a.open(tenantID, scope, cursor)
	if err != nil || c.Inner == "" {
		return "", errCursor
	}
	return c.Inner, nil
}

func (a *API) open(tenantID, scope, cursor string) (cursorBody, error) {
	var c cursorBody
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	g := a.aead()
	if err != nil || len(raw) < g.NonceSize() {
		return c, errCursor
	}
	b, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], nil)
	if err != nil {
		return c, errCursor
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Tenant != tenantID || c.Scope != scope {
		return c, errCursor
	}
	return c, nil
}

// page reads the limit and cursor query parameters of a list.
func (a *API) page(r *Request, scope string) (int, map[string]types.AttributeValue, error) {
	limit, err := limitParam(r)
	if err != nil {
		return 0, nil, err
	}
	start, err := a.decodeCursor(r.Principal.TenantID, scope, r.Query.Get("cursor"))
	return limit, start, err
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
