package suppression_test

import (
	"context"
	"errors"
	"testing"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/suppression"
)

// erased is a Checker over a fixed set of "<kind>|<value>" entries.
type erased map[string]bool

func (e erased) IsSuppressed(_ context.Context, _, kind, value string) (bool, error) {
	return e[kind+"|"+value], nil
}

type failing struct{}

func (failing) IsSuppressed(context.Context, string, string, string) (bool, error) {
	return false, errors.New("table unavailable")
}

func TestAdmit(t *testing.T) {
	ctx := context.Background()
	old, other := ids.New(ids.Contact), ids.New(ids.Contact)
	st := erased{
		chat.SuppressContact + "|" + old:                                   true,
		chat.SuppressEmail + "|gone@example.com":                           true,
		chat.SuppressChannel + "|" + chat.ChannelIdentity("slack", "U123"): true,
	}
	refuse := &chat.Tenant{ID: "t1"}
	renew := &chat.Tenant{ID: "t1", ReingestAfterErasure: suppression.ReingestNewContact}

	adm, err := suppression.Admit(ctx, st, refuse, suppression.Identity{ContactID: other, Email: "new@example.com"})
	if err != nil || adm.ContactID != other || adm.Fresh {
		t.Fatalf("never erased: %+v, %v", adm, err)
	}
	for _, id := range []suppression.Identity{
		{ContactID: old},
		{ContactID: other, Email: "gone@example.com"},
		{Channel: "slack", ExternalID: "U123"},
	} {
		if _, err := suppression.Admit(ctx, st, refuse, id); !errors.Is(err, suppression.ErrErased) {
			t.Errorf("%+v with refuse: %v, want ErrErased", id, err)
		}
	}
	// "new_contact": an erased contact id is replaced by a new one; a new contact
	// id that comes with an erased email is kept, marked fresh.
	adm, err = suppression.Admit(ctx, st, renew, suppression.Identity{ContactID: old})
	if err != nil || !adm.Fresh || adm.ContactID == old || !ids.Valid(ids.Contact, adm.ContactID) {
		t.Errorf("erased contact with new_contact: %+v, %v", adm, err)
	}
	adm, err = suppression.Admit(ctx, st, renew, suppression.Identity{ContactID: other, Email: "gone@example.com"})
	if err != nil || !adm.Fresh || adm.ContactID != other {
		t.Errorf("new contact, erased email: %+v, %v", adm, err)
	}
	adm, err = suppression.Admit(ctx, st, renew, suppression.Identity{Channel: "slack", ExternalID: "U123"})
	if err != nil || !adm.Fresh || adm.ContactID == "" {
		t.Errorf("erased channel identity without contact: %+v, %v", adm, err)
	}
	if _, err := suppression.Admit(ctx, failing{}, refuse, suppression.Identity{ContactID: other}); err == nil {
		t.Error("a failing check admitted the identity")
	}
}

func TestValidReingest(t *testing.T) {
	for v, want := range map[string]bool{"": true, "refuse": true, "new_contact": true, "restore": false} {
		if got := suppression.ValidReingest(v); got != want {
			t.Errorf("ValidReingest(%q) = %v", v, got)
		}
	}
}
