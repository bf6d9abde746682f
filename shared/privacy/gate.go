package privacy

import (
	"context"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

// Re-ingest settings of a tenant (chat.Tenant.ReingestAfterErasure).
const (
	ReingestRefuse     = "refuse"
	ReingestNewContact = "new_contact"
)

// ValidReingest reports whether v is a re-ingest setting ("" means refuse).
func ValidReingest(v string) bool { return v == "" || v == ReingestRefuse || v == ReingestNewContact }

// Identity is what an ingest path is about to store for a person: a contact
// (visitor) id, an email, a channel identity. Empty fields are not checked.
type Identity struct {
	ContactID  string
	Email      string
	Channel    string
	ExternalID string
}

// Admission is the gate's answer: the contact id to store under. Fresh is set
// when the identity was erased and the tenant lets it come back as a new contact:
// ContactID is then a new id, unlinked to anything erased.
type Admission struct {
	ContactID string
	Fresh     bool
}

// ErrErased is the refusal of an erased identity.
var ErrErased = &chat.Error{Code: chat.EForbidden, Message: "this identity was erased at the person's request and cannot be stored again"}

// Admit checks an identity against the tenant's suppression entries before an
// ingest path (widget session or identify, channel webhook) stores it. An identity
// that was never erased is admitted as it is. An erased one is refused with
// ErrErased, or, when the tenant chose "new_contact", admitted under a new contact
// id: the old data is gone and is never linked or restored. One GetItem per
// identifier given.
func Admit(ctx context.Context, st interface {
	IsSuppressed(ctx context.Context, tenantID, kind, value string) (bool, error)
}, tenant *chat.Tenant, id Identity) (Admission, error) {
	checks := []struct{ kind, value string }{
		{store.SuppressContact, id.ContactID},
		{store.SuppressEmail, id.Email},
	}
	if id.Channel != "" && id.ExternalID != "" {
		checks = append(checks, struct{ kind, value string }{store.SuppressChannel, store.ChannelIdentity(id.Channel, id.ExternalID)})
	}
	erased, contactErased := false, false
	for _, c := range checks {
		ok, err := st.IsSuppressed(ctx, tenant.ID, c.kind, c.value)
		if err != nil {
			return Admission{}, err
		}
		erased = erased || ok
		contactErased = contactErased || (ok && c.kind == store.SuppressContact)
	}
	if !erased {
		return Admission{ContactID: id.ContactID}, nil
	}
	if tenant.ReingestAfterErasure != ReingestNewContact {
		return Admission{}, ErrErased
	}
	// A contact id that is not itself erased is already a new contact.
	if contactErased || id.ContactID == "" {
		return Admission{ContactID: ids.New(ids.Contact), Fresh: true}, nil
	}
	return Admission{ContactID: id.ContactID, Fresh: true}, nil
}
