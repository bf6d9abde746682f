// Package dialogflow is Google Dialogflow's wire format for a tenant's bot
// that answers visitors before a person does: the tenant's agent's settings
// (Settings), the OAuth 2.0 grant a tenant gives us (OAuthConfig,
// AuthCodeURL, Exchange, TokenSource) and the one call we make, detectIntent
// (Client.DetectIntent), of Dialogflow ES (API v2) and CX (API v3).
//
// Grant: the tenant's Google account consents to the Scope
// (https://www.googleapis.com/auth/dialogflow) with access_type=offline and
// prompt=consent, so Google always issues a refresh token. Exchange keeps
// that refresh token only (the caller stores it, encrypted); the access
// token, id_token and the account's email, picture and locale are dropped.
// Access tokens live in memory only: TokenSource refreshes them from the
// refresh token and reuses each until a minute before it expires. Google does
// not rotate refresh tokens: the stored one stays valid until the owner
// revokes it (or Google expires it: unused for six months, a password
// change, an app in "testing" publishing status after seven days), and then
// the token endpoint answers invalid_grant, which is ErrRevoked.
//
// detectIntent: the host is regional (Host): an agent outside "global" is
// reached only at "<location>-dialogflow.googleapis.com", with the location
// in the path too. A visitor's conversation is one Dialogflow session
// (SessionID). Results keep the messages meant for our channel:
//
//   - ES: fulfillmentMessages of type text. Our channel names map to ES's
//     integrations' platforms (telegram TELEGRAM, line LINE, viber VIBER,
//     messenger FACEBOOK, slack SLACK; the widget and any other channel
//     none). If a text message names the channel's platform, exactly those
//     are kept; else those of no platform (PLATFORM_UNSPECIFIED, the
//     console's "Default" tab). If no message carries text at all,
//     fulfillmentText is the answer.
//   - CX: responseMessages of type text whose channel is empty or our
//     channel's name (queryParams.channel is our channel's name too, so
//     the agent's conditional responses can use it).
//
// Handoff to people: CX has a message for it, liveAgentHandoff (the "Live
// agent handoff" fulfillment). ES has none, so we use a convention: a
// custom payload message whose payload is an object with "handoff": true,
// e.g. {"handoff": true}, of the channel's platform or of no platform (the
// console: Responses, Custom payload). Either sets Result.Handoff; the
// texts of the same answer are kept (say "Connecting you to a person.").
// End of the conversation: CX's endInteraction message, or ES's
// diagnosticInfo.end_conversation (an intent set as "end of conversation"),
// sets Result.End.
//
// The package does no AWS or store work and logs nothing. Its errors name
// the call, the HTTP status and Google's error status (NOT_FOUND,
// PERMISSION_DENIED...) or OAuth error code (invalid_grant); never a token,
// a secret, a code, the visitor's text or a URL.
package dialogflow

import (
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
)

// Scope is the OAuth 2.0 scope of Dialogflow's API (ES and CX).
const Scope = "https://www.googleapis.com/auth/dialogflow"

// The editions of Dialogflow.
const (
	EditionES = "es" // Dialogflow ES, API v2
	EditionCX = "cx" // Dialogflow CX, API v3
)

// DefaultLocation and DefaultLanguage are Normalize's defaults.
const (
	DefaultLocation = "global"
	DefaultLanguage = "en"
)

// MaxSessionID is the most characters of a session id (Dialogflow's limit,
// ES and CX).
const MaxSessionID = 36

// Settings are an integration's plain settings.
type Settings struct {
	Edition     string `json:"edition"`               // "es" (v2) or "cx" (v3)
	Project     string `json:"project"`               // the GCP project id
	Location    string `json:"location"`              // "global" (default for ES) or a region like "europe-west1"
	Agent       string `json:"agent,omitempty"`       // CX: the agent id (UUID); ES: empty
	Environment string `json:"environment,omitempty"` // optional (ES: environment id; CX: environment id, a UUID)
	Language    string `json:"language"`              // BCP-47 language code, default "en"
}

// Normalize trims every field, lower-cases the edition and defaults the
// location to "global" and the language to "en".
func (s Settings) Normalize() Settings {
	s.Edition = strings.ToLower(strings.TrimSpace(s.Edition))
	s.Project = strings.TrimSpace(s.Project)
	s.Location = strings.TrimSpace(s.Location)
	s.Agent = strings.TrimSpace(s.Agent)
	s.Environment = strings.TrimSpace(s.Environment)
	s.Language = strings.TrimSpace(s.Language)
	if s.Location == "" {
		s.Location = DefaultLocation
	}
	if s.Language == "" {
		s.Language = DefaultLanguage
	}
	return s
}

var (
	projectRE  = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	regionRE   = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)
	uuidRE     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	esEnvRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	languageRE = regexp.MustCompile(`^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*$`)
	sessionRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,36}$`)
)

// maxLocation bounds a region's name (Google's are under 30 characters).
const maxLocation = 40

// maxLanguage bounds a language code.
const maxLanguage = 35

// Problems says what is wrong with s (as given: Normalize first), by field
// (the JSON names: "edition", "project", "location", "agent",
// "environment", "language"); an empty map means s is valid. The rules:
// the edition is "es" or "cx"; the project is a GCP project id (6 to 30
// lower-case letters, digits and hyphens, starting with a letter, not
// ending with a hyphen); the location is "global" or a region
// ("europe-west1"); CX needs the agent's id, a lower-case UUID, and ES takes
// none; the environment is optional: a UUID for CX, for ES an id of up to
// 64 letters, digits, '_' and '-'; the language is a BCP-47 code ("en",
// "pt-BR").
func (s Settings) Problems() map[string]string {
	p := map[string]string{}
	switch s.Edition {
	case EditionES, EditionCX:
	case "":
		p["edition"] = `missing: "es" or "cx"`
	default:
		p["edition"] = `must be "es" or "cx"`
	}
	switch {
	case s.Project == "":
		p["project"] = "missing"
	case !projectRE.MatchString(s.Project):
		p["project"] = "not a GCP project id: 6 to 30 lower-case letters, digits and hyphens, starting with a letter, not ending with a hyphen"
	}
	switch {
	case s.Location == "":
		p["location"] = `missing: "global" or a region like "europe-west1"`
	case s.Location != DefaultLocation && (len(s.Location) > maxLocation || !regionRE.MatchString(s.Location)):
		p["location"] = `must be "global" or a region like "europe-west1"`
	}
	switch {
	case s.Edition == EditionCX && s.Agent == "":
		p["agent"] = "missing: the CX agent's id (a UUID)"
	case s.Edition == EditionCX && !uuidRE.MatchString(s.Agent):
		p["agent"] = "not a CX agent id: a lower-case UUID"
	case s.Edition == EditionES && s.Agent != "":
		p["agent"] = "must be empty for ES (a project has one agent)"
	}
	switch {
	case s.Environment == "":
	case s.Edition == EditionCX && !uuidRE.MatchString(s.Environment):
		p["environment"] = "not a CX environment id: a lower-case UUID"
	case s.Edition == EditionES && !esEnvRE.MatchString(s.Environment):
		p["environment"] = "not an ES environment id: up to 64 letters, digits, '_' and '-'"
	}
	switch {
	case s.Language == "":
		p["language"] = `missing: a language code like "en"`
	case len(s.Language) > maxLanguage || !languageRE.MatchString(s.Language):
		p["language"] = `not a language code like "en" or "pt-BR"`
	}
	return p
}

// Host is the API's host for an agent in location: "dialogflow.googleapis.com"
// for "global" (or ""), else "<location>-dialogflow.googleapis.com" (a
// regional agent is only reached at its region's host).
func Host(location string) string {
	if location == "" || location == DefaultLocation {
		return "dialogflow.googleapis.com"
	}
	return location + "-dialogflow.googleapis.com"
}

// SessionID is the Dialogflow session id of a conversation: the
// conversation's id itself if it has at most 36 characters, all of
// [A-Za-z0-9_-]; else 36 characters of the unpadded base64url SHA-256 of
// it. The same conversation always has the same session.
func SessionID(conversationID string) string {
	if sessionRE.MatchString(conversationID) {
		return conversationID
	}
	sum := sha256.Sum256([]byte(conversationID))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:MaxSessionID]
}
