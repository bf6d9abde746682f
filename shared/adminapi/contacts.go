package adminapi

import (
	"context"
	"net/http"
	"net/mail"
	"strings"
	"unicode"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
)

func (a *API) contactRoutes() []Route {
	return []Route{
		{Method: http.MethodGet, Pattern: "/v1/contacts", Role: RoleOwner, Handle: a.findContacts},
		{Method: http.MethodGet, Pattern: "/v1/contacts/{id}", Role: RoleAgent, Handle: a.getContact},
		{Method: http.MethodPatch, Pattern: "/v1/contacts/{id}", Role: RoleOwner, Handle: a.patchContact},
	}
}

func (a *API) findContacts(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r, "email", "limit", "cursor"); err != nil {
		return nil, err
	}
	email, ok := normalEmail(r.Query.Get("email"))
	if !ok {
		return nil, fieldError("email", "a valid email address is required")
	}
	// The scope binds the cursor to this search without putting the email in it.
	scope := "contacts:" + hashKey(email)
	limit, start, err := a.page(r, scope)
	if err != nil {
		return nil, err
	}
	cs, next, err := a.store.ContactsByEmail(ctx, r.Principal.TenantID, email, limit, start)
	if err != nil {
		return nil, listError(err)
	}
	targets := map[string]string{"matches": itoa(len(cs))}
	for i, c := range cs {
		targets["contactId."+itoa(i)] = c.ID
	}
	if err := a.audit(ctx, r, r.Principal.TenantID, ActContactSearch, targets); err != nil {
		return nil, err
	}
	if cs == nil {
		cs = []chat.Contact{}
	}
	return JSON(http.StatusOK, List[chat.Contact]{Items: cs, Next: a.encodeCursor(r.Principal.TenantID, scope, next)}), nil
}

func (a *API) getContact(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	id := r.Param("id")
	if !ids.Valid(ids.Contact, id) {
		return nil, chat.ErrNotFound
	}
	c, err := a.store.Contact(ctx, r.Principal.TenantID, id)
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, r, r.Principal.TenantID, ActContactRead, map[string]string{"contactId": c.ID}); err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, c), nil
}

type patchContactBody struct {
	Name            *string `json:"name"`
	Email           *string `json:"email"`
	Phone           *string `json:"phone"`
	MarketingOptOut *bool   `json:"marketingOptOut"`
}

func (a *API) patchContact(ctx context.Context, r *Request) (*Response, error) {
	var b patchContactBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	issues := map[string]string{}
	f := chat.ContactFields{MarketingOptOut: b.MarketingOptOut}
	if b.Name != nil {
		n := checkName(*b.Name, issues, "name", false)
		f.Name = &n
	}
	if b.Email != nil {
		e := strings.TrimSpace(*b.Email)
		if e != "" {
			var ok bool
			if e, ok = normalEmail(e); !ok {
				issues["email"] = "must be a valid email address, or empty to clear it"
			}
		}
		f.Email = &e
	}
	if b.Phone != nil {
		p := strings.TrimSpace(*b.Phone)
		if !validPhone(p) {
			issues["phone"] = "must be a phone number (digits, spaces, + - ( ) .), or empty to clear it"
		}
		f.Phone = &p
	}
	if len(issues) > 0 {
		return nil, &chat.Error{Code: chat.EInvalid, Message: "the contact is invalid", Fields: issues}
	}
	if f.Name == nil && f.Email == nil && f.Phone == nil && f.MarketingOptOut == nil {
		return nil, fieldError("body", "name, email, phone or marketingOptOut is required")
	}
	id := r.Param("id")
	if !ids.Valid(ids.Contact, id) {
		return nil, chat.ErrNotFound
	}
	c, err := a.store.UpdateContactFields(ctx, r.Principal.TenantID, id, f)
	if err != nil {
		return nil, err
	}
	fields := changed(b.Name != nil, "name", b.Email != nil, "email", b.Phone != nil, "phone", b.MarketingOptOut != nil, "marketingOptOut")
	if err := a.audit(ctx, r, r.Principal.TenantID, ActContactUpdate, map[string]string{"contactId": c.ID, "fields": fields}); err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, c), nil
}

// normalEmail checks a bare address ("a@b.example") and lower-cases it.
func normalEmail(s string) (string, bool) {
	s = strings.TrimSpace(s)
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || addr.Name != "" || len(s) > 254 {
		return "", false
	}
	return strings.ToLower(s), true
}

func validPhone(s string) bool {
	if s == "" {
		return true
	}
	digits := 0
	for _, c := range s {
		switch {
		case unicode.IsDigit(c) && c < 128:
			digits++
		case strings.ContainsRune("+-() .", c):
		default:
			return false
		}
	}
	return digits >= 4 && digits <= 20 && len(s) <= 40
}
