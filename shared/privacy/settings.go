package privacy

import (
	"context"
	"net/mail"
	"strings"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/suppression"
)

// Settings are a tenant's privacy settings.
type Settings struct {
	// ReingestAfterErasure: "refuse" (the default) or "new_contact".
	ReingestAfterErasure string `json:"reingestAfterErasure"`
	// AnalyticsConsent: "not_required" (the default: the widget reports page
	// views at once) or "required" (only after the visitor's consent, given
	// through the widget's LiveSupportBot.consent(true); ws-message refuses a
	// page view without it).
	AnalyticsConsent string `json:"analyticsConsent"`
}

// SettingsPatch changes some of the settings: absent fields stay.
type SettingsPatch struct {
	ReingestAfterErasure *string `json:"reingestAfterErasure"`
	AnalyticsConsent     *string `json:"analyticsConsent"`
}

// SettingsOf returns the tenant's privacy settings, defaults filled in.
func SettingsOf(t *chat.Tenant) Settings {
	s := Settings{ReingestAfterErasure: t.ReingestAfterErasure, AnalyticsConsent: t.AnalyticsConsent}
	if s.ReingestAfterErasure == "" {
		s.ReingestAfterErasure = suppression.ReingestRefuse
	}
	if s.AnalyticsConsent == "" {
		s.AnalyticsConsent = chat.AnalyticsConsentNotRequired
	}
	return s
}

func (in SettingsPatch) validate() *chat.Error {
	fields := map[string]string{}
	if v := in.ReingestAfterErasure; v != nil && *v != suppression.ReingestRefuse && *v != suppression.ReingestNewContact {
		fields["reingestAfterErasure"] = `must be "refuse" or "new_contact"`
	}
	if v := in.AnalyticsConsent; v != nil && *v != chat.AnalyticsConsentRequired && *v != chat.AnalyticsConsentNotRequired {
		fields["analyticsConsent"] = `must be "required" or "not_required"`
	}
	if in.ReingestAfterErasure == nil && in.AnalyticsConsent == nil {
		fields["body"] = "give reingestAfterErasure or analyticsConsent"
	}
	if len(fields) == 0 {
		return nil
	}
	return &chat.Error{Code: chat.EInvalid, Message: "invalid privacy settings", Fields: fields}
}

// UpdateSettings changes the tenant's privacy settings and audits the change
// (with the names of the fields changed).
func (s *Service) UpdateSettings(ctx context.Context, tenant *chat.Tenant, actor Actor, in SettingsPatch) (Settings, error) {
	if e := in.validate(); e != nil {
		return Settings{}, e
	}
	t, err := s.Store.SetPrivacySettings(ctx, tenant.ID, in.ReingestAfterErasure, in.AnalyticsConsent)
	if err != nil {
		return Settings{}, err
	}
	counts := map[string]int{}
	if in.ReingestAfterErasure != nil {
		counts["field.reingestAfterErasure"] = 1
	}
	if in.AnalyticsConsent != nil {
		counts["field.analyticsConsent"] = 1
	}
	if err := Audit(ctx, s.Store, t, actor, "privacy.settings.update", "", counts); err != nil {
		return Settings{}, err
	}
	return SettingsOf(t), nil
}

// LiftInput names one identity of an erased subject whose suppression the
// tenant lifts, so it may be stored again: an email, a contact (visitor) id, or a
// channel identity.
type LiftInput struct {
	Email      string `json:"email"`
	ContactID  string `json:"contactId"`
	Channel    string `json:"channel"`
	ExternalID string `json:"externalId"`
}

// Lift removes the suppression of one identity; an identity that is not
// suppressed is not found. The audit event names the kind of identity only.
func (s *Service) Lift(ctx context.Context, tenant *chat.Tenant, actor Actor, in LiftInput) error {
	kind, value, fields := "", "", map[string]string{}
	given := 0
	if in.Email = strings.TrimSpace(in.Email); in.Email != "" {
		given++
		kind, value = chat.SuppressEmail, in.Email
		if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email {
			fields["email"] = "not an email address"
		}
	}
	if in.ContactID = strings.TrimSpace(in.ContactID); in.ContactID != "" {
		given++
		kind, value = chat.SuppressContact, in.ContactID
	}
	if in.Channel != "" || in.ExternalID != "" {
		given++
		kind, value = chat.SuppressChannel, chat.ChannelIdentity(in.Channel, in.ExternalID)
		if in.Channel == "" || in.ExternalID == "" {
			fields["channel"] = "give channel and externalId together"
		}
	}
	if given != 1 {
		fields["body"] = "give exactly one of email, contactId, or channel with externalId"
	}
	if len(fields) > 0 {
		return &chat.Error{Code: chat.EInvalid, Message: "invalid identity", Fields: fields}
	}
	ok, err := s.Store.LiftSuppression(ctx, tenant.ID, kind, value)
	if err != nil {
		return err
	}
	if !ok {
		return chat.ErrNotFound
	}
	return Audit(ctx, s.Store, tenant, actor, "privacy.suppression.lift", "", map[string]int{"kind." + strings.ToLower(kind): 1})
}
