package adminapi

import (
	"context"
	"net/http"
	"strings"
	"unicode"

	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/store"
)

func (a *API) inboxRoutes() []Route {
	return []Route{
		{Method: http.MethodGet, Pattern: "/v1/conversations", Role: RoleAgent, Handle: a.listConversations},
		{Method: http.MethodGet, Pattern: "/v1/conversations/{id}", Role: RoleAgent, Handle: a.getConversation},
		{Method: http.MethodPatch, Pattern: "/v1/conversations/{id}", Role: RoleAgent, Handle: a.patchConversation},
		{Method: http.MethodGet, Pattern: "/v1/conversations/{id}/messages", Role: RoleAgent, Handle: a.listMessages},
		{Method: http.MethodPost, Pattern: "/v1/conversations/{id}/messages", Role: RoleAgent, Handle: a.replyToConversation},
	}
}

func (a *API) listConversations(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r, "status", "limit", "cursor"); err != nil {
		return nil, err
	}
	status := r.Query.Get("status")
	if status == "" {
		status = chat.StatusOpen
	}
	if status != chat.StatusOpen && status != chat.StatusClosed {
		return nil, fieldError("status", `must be "open" or "closed"`)
	}
	scope := "conversations:" + status
	limit, start, err := a.page(r, scope)
	if err != nil {
		return nil, err
	}
	cvs, next, err := a.store.ConversationsByStatus(ctx, r.Principal.TenantID, status, inboxShards(r.Principal.Tenant), limit, start)
	if err != nil {
		return nil, listError(err)
	}
	if cvs == nil {
		cvs = []chat.Conversation{}
	}
	if err := a.store.WithSummaries(ctx, r.Principal.TenantID, cvs); err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, List[chat.Conversation]{Items: cvs, Next: a.encodeCursor(r.Principal.TenantID, scope, next)}), nil
}

// conversation reads the conversation named by the path: an id that is malformed,
// missing, expired or another tenant's is the same 404.
func (a *API) conversation(ctx context.Context, r *Request) (*chat.Conversation, error) {
	id := r.Param("id")
	if !ids.Valid(ids.Conversation, id) {
		return nil, chat.ErrNotFound
	}
	return a.store.Conversation(ctx, r.Principal.TenantID, id)
}

func (a *API) getConversation(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r); err != nil {
		return nil, err
	}
	cv, err := a.readableConversation(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := a.withSummary(ctx, r, cv); err != nil {
		return nil, err
	}
	v, err := a.conversationView(ctx, cv)
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, r, r.Principal.TenantID, ActConversationRead, map[string]string{"conversationId": cv.ID, "contactId": cv.ContactID}); err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, v), nil
}

// withSummary fills in cv's last message and unread count. An archived
// conversation has none: the archive does not keep summaries.
func (a *API) withSummary(ctx context.Context, r *Request, cv *chat.Conversation) error {
	if cv.Archived {
		return nil
	}
	one := []chat.Conversation{*cv}
	if err := a.store.WithSummaries(ctx, r.Principal.TenantID, one); err != nil {
		return err
	}
	*cv = one[0]
	return nil
}

// patchConversationBody names the changes to make; a field left out (or
// null) is not changed.
type patchConversationBody struct {
	Status     *string `json:"status"`
	AssigneeID *string `json:"assigneeId"`
	Read       *bool   `json:"read"`
}

// patchConversation closes or reopens a conversation, assigns it and marks it
// read, any of them. Every field is checked before anything changes. The
// answer is the conversation as its last change left it (each write returns
// the whole item), with its summary read after every change.
func (a *API) patchConversation(ctx context.Context, r *Request) (*Response, error) {
	var b patchConversationBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	if err := a.checkConversationPatch(ctx, r, &b); err != nil {
		return nil, err
	}
	cv, err := a.changeConversation(ctx, r, &b)
	if err != nil {
		return nil, err
	}
	if b.Read != nil {
		if err := a.store.MarkConversationRead(ctx, r.Principal.TenantID, cv.ID); err != nil {
			return nil, err
		}
	}
	if err := a.withSummary(ctx, r, cv); err != nil {
		return nil, err
	}
	return JSON(http.StatusOK, cv), nil
}

// checkConversationPatch refuses a patch that changes nothing or has a bad
// field; an assignee must be one of the tenant's agents.
func (a *API) checkConversationPatch(ctx context.Context, r *Request, b *patchConversationBody) error {
	if b.Status == nil && b.AssigneeID == nil && b.Read == nil {
		return fieldError("body", "status, assigneeId or read is required")
	}
	issues := map[string]string{}
	if b.Status != nil && *b.Status != chat.StatusOpen && *b.Status != chat.StatusClosed {
		issues["status"] = `must be "open" or "closed"`
	}
	if b.Read != nil && !*b.Read {
		issues["read"] = "must be true"
	}
	if b.AssigneeID != nil && *b.AssigneeID != "" {
		ok, err := a.isAgent(ctx, r.Principal.TenantID, *b.AssigneeID)
		if err != nil {
			return err
		}
		if !ok {
			issues["assigneeId"] = "is not an agent of this account"
		}
	}
	if len(issues) > 0 {
		return &chat.Error{Code: chat.EInvalid, Message: "the change is invalid", Fields: issues}
	}
	return nil
}

// isAgent reports whether id names one of the tenant's agents.
func (a *API) isAgent(ctx context.Context, tenantID, id string) (bool, error) {
	if !ids.Valid(ids.APIKey, id) {
		return false, nil
	}
	_, err := a.store.Agent(ctx, tenantID, id)
	if chat.ErrorCode(err) == chat.ENotFound {
		return false, nil
	}
	return err == nil, err
}

// changeConversation makes the patch's changes to the conversation's own item
// (status, assignee), each audited, and returns the item after them. Without
// such a change it reads the conversation: a read mark alone must find it live
// before it writes. Missing, expired and foreign conversations are not found.
func (a *API) changeConversation(ctx context.Context, r *Request, b *patchConversationBody) (*chat.Conversation, error) {
	id := r.Param("id")
	if !ids.Valid(ids.Conversation, id) {
		return nil, chat.ErrNotFound
	}
	tid := r.Principal.TenantID
	var cv *chat.Conversation
	var err error
	if b.Status != nil {
		if cv, err = a.store.SetConversationStatus(ctx, tid, id, *b.Status, inboxShards(r.Principal.Tenant)); err != nil {
			return nil, err
		}
		act := ActConversationClose
		if *b.Status == chat.StatusOpen {
			act = ActConversationReopen
		}
		if err := a.audit(ctx, r, tid, act, map[string]string{"conversationId": id}); err != nil {
			return nil, err
		}
	}
	if b.AssigneeID != nil {
		if cv, err = a.store.AssignConversation(ctx, tid, id, *b.AssigneeID); err != nil {
			return nil, err
		}
		if err := a.audit(ctx, r, tid, ActConversationAssign, map[string]string{"conversationId": id, "assigneeId": *b.AssigneeID}); err != nil {
			return nil, err
		}
	}
	if cv == nil {
		return a.store.Conversation(ctx, tid, id)
	}
	return cv, nil
}

func (a *API) listMessages(ctx context.Context, r *Request) (*Response, error) {
	if err := onlyQuery(r, "limit", "cursor"); err != nil {
		return nil, err
	}
	limit, err := limitParam(r)
	if err != nil {
		return nil, err
	}
	cv, err := a.readableConversation(ctx, r)
	if err != nil {
		return nil, err
	}
	scope := "messages:" + cv.ID
	before, err := a.decodeCursor(r.Principal.TenantID, scope, r.Query.Get("cursor"))
	if err != nil {
		return nil, err
	}
	msgs, next, err := a.store.HistoryOrArchived(ctx, r.Principal.TenantID, cv, before, limit)
	if err != nil {
		return nil, err
	}
	if err := a.audit(ctx, r, r.Principal.TenantID, ActMessagesRead, map[string]string{"conversationId": cv.ID, "contactId": cv.ContactID}); err != nil {
		return nil, err
	}
	if msgs == nil {
		msgs = []*chat.Message{}
	}
	if a.attachments != nil {
		if err := a.attachments.Links(ctx, msgs); err != nil {
			return nil, err
		}
	}
	return JSON(http.StatusOK, List[*chat.Message]{Items: msgs, Next: a.encodeCursor(r.Principal.TenantID, scope, next)}), nil
}

type replyBody struct {
	Text      string `json:"text"`
	AgentName string `json:"agentName"`
}

// replyToConversation stores an agent reply. dispatch delivers it from the
// table's stream to the visitor's live connections or the conversation's
// channel. An Idempotency-Key header makes a retried reply store one message.
func (a *API) replyToConversation(ctx context.Context, r *Request) (*Response, error) {
	var b replyBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	issues := map[string]string{}
	text := strings.TrimSpace(b.Text)
	switch chat.TextProblem(text, a.maxMessageChars) {
	case chat.TextEmpty:
		issues["text"] = "is required"
	case chat.TextTooLong:
		issues["text"] = "must be at most " + itoa(a.maxMessageChars) + " characters"
	case chat.TextNotUTF8:
		issues["text"] = "must be valid UTF-8"
	}
	agent := checkName(b.AgentName, issues, "agentName", false)
	idem := r.Header.Get("Idempotency-Key")
	if idem != "" && (len(idem) > 100 || strings.IndexFunc(idem, func(c rune) bool { return c > unicode.MaxASCII || unicode.IsControl(c) }) >= 0) {
		issues["Idempotency-Key"] = "must be at most 100 printable ASCII characters"
	}
	if len(issues) > 0 {
		return nil, &chat.Error{Code: chat.EInvalid, Message: "the reply is invalid", Fields: issues}
	}
	cv, err := a.conversation(ctx, r)
	if err != nil {
		return nil, err
	}
	if cv.Status != chat.StatusOpen {
		return nil, chat.Errorf(chat.EConflict, "the conversation is closed; reopen it to reply")
	}
	if agent == "" {
		agent = "Agent"
	}
	if err := a.canReply(ctx, cv, false); err != nil {
		return nil, err
	}
	cmid := ""
	if idem != "" {
		cmid = "admin:" + r.Principal.KeyID + ":" + idem
	}
	m, created, err := a.storeAgentMessage(ctx, r, cv, &chat.Message{Author: chat.Author{Kind: chat.AuthorAgent, Name: agent}, Text: text,
		ClientMessageID: cmid})
	if err != nil {
		return nil, err
	}
	if !created {
		return JSON(http.StatusOK, m), nil
	}
	return JSON(http.StatusCreated, m), nil
}

// storeAgentMessage stores an agent's message m (author, text, template,
// client message id) in the conversation and records it: dispatch delivers it
// from the table's stream to the visitor's connections or the conversation's
// channel. created is false when the client message id named a message
// stored before (nothing else is done then).
func (a *API) storeAgentMessage(ctx context.Context, r *Request, cv *chat.Conversation, m *chat.Message) (*chat.Message, bool, error) {
	m.TenantID, m.ConversationID, m.ContactID, m.Channel = cv.TenantID, cv.ID, cv.ContactID, cv.Channel
	m, created, err := a.store.PutMessage(ctx, m, r.Principal.Tenant.Periods())
	if err != nil || !created {
		return m, false, err
	}
	// The inbox position moves at most once a minute per conversation
	// (store.InboxStep), as dispatch moves it: a busy tenant's replies would
	// otherwise move it with every one, an index delete and put each.
	if _, err := a.store.TouchConversation(ctx, cv.TenantID, cv.ID, m.CreatedAt, m.KeepUntil, store.InboxStep); err != nil {
		return nil, false, err
	}
	if err := a.audit(ctx, r, r.Principal.TenantID, ActMessageCreate, map[string]string{"conversationId": cv.ID, "messageId": m.ID}); err != nil {
		return nil, false, err
	}
	return m, true, nil
}

// inboxShards is the inbox shards of the caller's tenant.
func inboxShards(t *chat.Tenant) int {
	if t == nil {
		return 1
	}
	return t.InboxShards
}
