package slackbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/webhook"
)

// Kinds of parsed Events API requests.
const (
	KindURLVerification = "url_verification"
	KindMessage         = "message"
	KindUninstalled     = "app_uninstalled"
	KindTokensRevoked   = "tokens_revoked"
	KindMember          = "member"  // user_change: a member's shown name (or deactivation)
	KindIgnored         = "ignored" // a valid request the bridge has nothing to do for
)

// Event is what the bridge takes from one Events API request.
type Event struct {
	Kind      string
	Challenge string // url_verification
	EventID   string
	TeamID    string
	APIAppID  string
	// Message fields (KindMessage).
	User     string
	Text     string
	Channel  string
	TS       string
	ThreadTS string
	SubType  string
	BotID    string
	// UserName is the name Slack shows for the message's author, from the
	// event's user_profile when Slack sends one (display name, else real
	// name); "" otherwise. Nothing else of that profile is taken.
	UserName string
	// RevokedBots are the bot user ids of a tokens_revoked event.
	RevokedBots []string
	// Member is the member and the name Slack shows for it of a user_change
	// event (KindMember); MemberGone says the member was deactivated or is a
	// bot (its item is removed).
	Member     *chat.SlackMember
	MemberGone bool
}

// ErrMalformed is returned for a body that is not an Events API request.
var ErrMalformed = errors.New("malformed events api request")

// maxBody bounds the body the endpoint reads (Slack events are small).
const maxBody = 1 << 20

// ParseEvent parses an Events API body with slackevents (no verification token:
// requests are verified by signature before). An unknown inner event type is a
// KindIgnored event, not an error; a body that is not an Events API request is
// ErrMalformed. It never panics.
func ParseEvent(body []byte) (ev *Event, err error) {
	defer func() {
		if r := recover(); r != nil {
			ev, err = nil, fmt.Errorf("%w: %v", ErrMalformed, r)
		}
	}()
	if len(body) > maxBody || !json.Valid(body) {
		return nil, ErrMalformed
	}
	var outer struct {
		Type    string `json:"type"`
		EventID string `json:"event_id"`
		TeamID  string `json:"team_id"`
		Event   struct {
			Type        string `json:"type"`
			UserProfile *struct {
				DisplayName string `json:"display_name"`
				RealName    string `json:"real_name"`
			} `json:"user_profile"`
		} `json:"event"`
	}
	if err := json.Unmarshal(body, &outer); err != nil || outer.Type == "" {
		return nil, ErrMalformed
	}
	raw, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil {
		// slackevents fails on inner event types it does not know; a well-formed
		// callback of such a type is acknowledged and ignored.
		if outer.Type == slackevents.CallbackEvent && outer.EventID != "" && outer.TeamID != "" && outer.Event.Type != "" {
			_, known := slackevents.EventsAPIInnerEventMapping[slackevents.EventsAPIType(outer.Event.Type)]
			if _, rtm := slack.EventMapping[outer.Event.Type]; !known && !rtm {
				return &Event{Kind: KindIgnored, EventID: outer.EventID, TeamID: outer.TeamID}, nil
			}
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch d := raw.Data.(type) {
	case *slackevents.EventsAPIURLVerificationEvent:
		if raw.Type != slackevents.URLVerification {
			return &Event{Kind: KindIgnored}, nil
		}
		return &Event{Kind: KindURLVerification, Challenge: d.Challenge}, nil
	case *slackevents.EventsAPICallbackEvent:
		ev := &Event{Kind: KindIgnored, EventID: d.EventID, TeamID: d.TeamID, APIAppID: d.APIAppID}
		if ev.EventID == "" || ev.TeamID == "" {
			return nil, fmt.Errorf("%w: callback without event_id or team_id", ErrMalformed)
		}
		switch in := raw.InnerEvent.Data.(type) {
		case *slackevents.MessageEvent:
			ev.Kind = KindMessage
			ev.User, ev.Text, ev.Channel, ev.TS, ev.ThreadTS = in.User, in.Text, in.Channel, in.TimeStamp, in.ThreadTimeStamp
			ev.SubType, ev.BotID = in.SubType, in.BotID
			if up := outer.Event.UserProfile; up != nil {
				ev.UserName = shownName(up.DisplayName, up.RealName)
			}
		case *slackevents.AppUninstalledEvent:
			ev.Kind = KindUninstalled
		case *slackevents.TokensRevokedEvent:
			ev.Kind = KindTokensRevoked
			ev.RevokedBots = in.Tokens.Bot
		case *slackevents.UserChangeEvent:
			// team_join is not taken: a member who joins has not replied, so
			// the bridge keeps nothing of it (the event stays KindIgnored).
			if u := in.User; u.ID != "" {
				ev.Kind, ev.MemberGone = KindMember, u.Deleted || u.IsBot
				ev.Member = &chat.SlackMember{TeamID: ev.TeamID, UserID: u.ID,
					DisplayName: shownName(u.Profile.DisplayName, u.Profile.RealName, u.RealName)}
			}
		}
		return ev, nil
	}
	return &Event{Kind: KindIgnored}, nil
}

// shownName is the name Slack shows for a member: the first non-empty of
// names (display name, then real name).
func shownName(names ...string) string {
	for _, n := range names {
		if n = strings.TrimSpace(n); n != "" {
			return n
		}
	}
	return ""
}

// IsHumanThreadReply reports whether a message event is a person's reply in a
// thread: no bot, no subtype other than a broadcast reply, a thread parent that is
// not the message itself, and some text.
func (e *Event) IsHumanThreadReply() bool {
	return e.Kind == KindMessage && e.BotID == "" && e.User != "" &&
		(e.SubType == "" || e.SubType == "thread_broadcast") &&
		e.ThreadTS != "" && e.ThreadTS != e.TS && e.Channel != "" && strings.TrimSpace(e.Text) != ""
}

// rawBody is the body as Slack signed it.
var rawBody = webhook.RawBody

var errBadSignature = chat.Errorf(chat.EUnauthorized, "missing, invalid or expired Slack signature")

func unauthorized() events.APIGatewayV2HTTPResponse {
	return problem(errBadSignature, "Unauthorized")
}

var okResponse = jsonResponse(http.StatusOK, map[string]bool{"ok": true})

// HandleEvents is POST /webhooks/slack/events. It verifies the signature first
// (401, nothing written, when it fails; a signed body over 1 MiB is 413),
// answers url_verification, and otherwise only deduplicates and stores, so
// Slack gets its answer within 3 seconds: a
// person's reply in a conversation's thread becomes an agent message (dispatch
// delivers it to the visitor); app_uninstalled and tokens_revoked remove the
// integration; everything else is acknowledged and ignored.
func (b *Bridge) HandleEvents(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	body, err := rawBody(req)
	if err != nil {
		return unauthorized(), nil
	}
	secret, err := b.secret("SLACK_SIGNING_SECRET", b.cfg.SigningSecret)
	if errors.Is(err, ErrNotConfigured) {
		b.log.WarnContext(ctx, "slack is not configured; answering 503", "error", err.Error())
		return NotConfigured(ctx, req)
	}
	if err != nil {
		return b.internal(ctx, "read signing secret", err), nil // Slack retries
	}
	in := Inbound{}
	if err := in.Verify(channel.Request{Method: req.RequestContext.HTTP.Method, Headers: req.Headers,
		Query: req.QueryStringParameters, Body: body}, secret); err != nil {
		b.log.WarnContext(ctx, "slack signature rejected", "reason", err.Error())
		return unauthorized(), nil
	}
	if len(body) > maxBody {
		// Signed but too large: Slack would only send it again.
		res := problemStatus(http.StatusRequestEntityTooLarge, "Content Too Large", "the body is larger than 1 MiB")
		res.Headers["X-Slack-No-Retry"] = "1"
		return res, nil
	}
	evs, err := in.Parse(body)
	if err != nil {
		res := problem(chat.Errorf(chat.EInvalid, "not an Events API request"), "Bad request")
		res.Headers["X-Slack-No-Retry"] = "1"
		return res, nil
	}
	if len(evs) == 0 {
		return okResponse, nil
	}
	ev := evs[0].Native.(*Event)
	switch ev.Kind {
	case KindURLVerification:
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Body: ev.Challenge,
			Headers: map[string]string{"Content-Type": "text/plain"}}, nil
	case KindMessage:
		if !ev.IsHumanThreadReply() {
			return okResponse, nil
		}
		if err := b.storeReply(ctx, ev); err != nil {
			return b.internal(ctx, "store slack reply", err), nil // Slack retries; event_id dedupes
		}
	case KindMember:
		if err := b.storeMember(ctx, ev); err != nil {
			return b.internal(ctx, "store slack member", err), nil
		}
	case KindUninstalled, KindTokensRevoked:
		if err := b.handleRevocation(ctx, ev); err != nil {
			return b.internal(ctx, "slack uninstall", err), nil
		}
	}
	return okResponse, nil
}

// storeReply stores a person's thread reply as an agent message of the thread's
// conversation, once per event_id. Threads the bridge did not open are ignored.
// Dispatch delivers the message and moves the conversation's activity forward.
func (b *Bridge) storeReply(ctx context.Context, ev *Event) error {
	tenantID, err := b.st.SlackTenantOfTeam(ctx, ev.TeamID)
	if errors.Is(err, chat.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	in, err := b.st.SlackIntegration(ctx, tenantID)
	if errors.Is(err, chat.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ev.User == in.BotUserID || (in.AppID != "" && ev.APIAppID != "" && ev.APIAppID != in.AppID) {
		return nil
	}
	th, err := b.st.SlackThreadByTS(ctx, tenantID, ev.TeamID, ev.Channel, ev.ThreadTS)
	if errors.Is(err, chat.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	p, err := b.tenants.Periods(ctx, tenantID)
	if err != nil {
		return err
	}
	name, err := b.rememberAgent(ctx, tenantID, ev, p)
	if err != nil {
		return err
	}
	msg, created, err := b.st.PutMessage(ctx, &chat.Message{
		TenantID: tenantID, ConversationID: th.ConversationID, ContactID: th.ContactID,
		Author: chat.Author{Kind: chat.AuthorAgent, Name: name}, Text: fromMrkdwn(ev.Text),
		Channel: th.Channel, ClientMessageID: ChannelName + ":" + ev.EventID,
	}, p)
	if err != nil {
		return err
	}
	b.log.InfoContext(ctx, "slack reply stored", "tenantId", tenantID, "conversationId", th.ConversationID,
		"messageId", msg.ID, "eventId", ev.EventID, "duplicate", !created)
	return nil
}

// memberTouch is how far a replying agent's item may lag behind a full
// personal-data period before a reply moves it forward: an agent who replies
// often costs one write a day, not one a reply.
const memberTouch = 24 * time.Hour

// rememberAgent returns the name an agent's reply shows and keeps the member
// item of the replying Slack user, the only member the bridge stores: its team,
// user and display name. The name is the one Slack sent with the message
// (user_profile), else the stored one, else "Agent". The item is written only
// when it is missing, its name changed, or its retention is more than a day
// behind (so it lasts a personal-data period after the agent's last reply).
func (b *Bridge) rememberAgent(ctx context.Context, tenantID string, ev *Event, p retention.Periods) (string, error) {
	prev, err := b.st.SlackMember(ctx, tenantID, ev.TeamID, ev.User)
	if err != nil && !errors.Is(err, chat.ErrNotFound) {
		return "", err
	}
	m := chat.SlackMember{TeamID: ev.TeamID, UserID: ev.User, DisplayName: ev.UserName}
	if m.DisplayName == "" && prev != nil {
		m.DisplayName = prev.DisplayName
	}
	now := b.now()
	due := retention.ExpiresAt(p, retention.Personal, now.Add(-memberTouch))
	if prev == nil || prev.DisplayName != m.DisplayName || prev.ExpiresAt < due {
		if err := b.st.PutSlackMember(ctx, tenantID, &m, now, p); err != nil {
			return "", err
		}
	}
	return m.AgentName(), nil
}

// storeMember keeps the name of an agent who replied current (user_change):
// it renames the member's item when there is one and stores nothing for any
// other member; a deactivated member's item is removed.
func (b *Bridge) storeMember(ctx context.Context, ev *Event) error {
	tenantID, err := b.st.SlackTenantOfTeam(ctx, ev.TeamID)
	if errors.Is(err, chat.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ev.MemberGone {
		return b.st.DeleteSlackMember(ctx, tenantID, ev.TeamID, ev.Member.UserID)
	}
	_, err = b.st.RenameSlackMember(ctx, tenantID, ev.TeamID, ev.Member.UserID, ev.Member.DisplayName)
	return err
}

// handleRevocation removes the integration of the event's workspace when the app
// was uninstalled or our bot's token was revoked.
func (b *Bridge) handleRevocation(ctx context.Context, ev *Event) error {
	tenantID, err := b.st.SlackTenantOfTeam(ctx, ev.TeamID)
	if errors.Is(err, chat.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ev.Kind == KindTokensRevoked {
		in, err := b.st.SlackIntegration(ctx, tenantID)
		if errors.Is(err, chat.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !slices.Contains(ev.RevokedBots, in.BotUserID) {
			return nil
		}
	}
	if err := b.Uninstall(ctx, tenantID); err != nil {
		return err
	}
	b.log.InfoContext(ctx, "slack uninstalled by slack", "tenantId", tenantID, "teamId", ev.TeamID, "event", ev.Kind)
	return nil
}

// fromMrkdwn undoes Slack's escaping of &, < and > in message text.
func fromMrkdwn(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// toMrkdwn escapes &, < and > so text shows as written in Slack.
func toMrkdwn(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
