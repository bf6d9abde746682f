package slackbridge_test

import (
	"context"
	"errors"
	"testing"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/privacy/jobs"
)

// TestPrivacyErase_DeletesOurSlackPostsAboutTheSubject runs a real erase request
// through privacy.Service and jobs.Eraser with the bridge as its Slack erase
// hook (as privacy-erase is wired): the thread header and the posts about the
// subject are deleted in Slack, those of another visitor stay.
func TestPrivacyErase_DeletesOurSlackPostsAboutTheSubject(t *testing.T) {
	h := newHarness(t)
	ten := h.tenant(t)
	h.install(t, ten.ID)
	ctx := context.Background()
	subject, other := ids.New(ids.Contact), ids.New(ids.Contact)
	if _, err := h.st.Identify(ctx, ten.ID, subject, "Erin Erased", "erin@example.com", ten.Periods()); err != nil {
		t.Fatal(err)
	}
	var subjectThread string
	for _, v := range []string{subject, other} {
		m := h.storeVisitorMessage(t, ten.ID, v, "about me")
		if err := h.bridge.Deliver(ctx, m); err != nil {
			t.Fatal(err)
		}
		if v == subject {
			th, err := h.st.SlackThread(ctx, ten.ID, m.ConversationID)
			if err != nil {
				t.Fatal(err)
			}
			subjectThread = th.ThreadTS
		}
	}
	st := h.st.WithSubjectKey([]byte("test subject hash key, 32 bytes!"))
	bucket := testaws.NewBucket(t)
	eraser := &jobs.Eraser{Store: st, S3: bucket.S3, Bucket: bucket.Name,
		Connections: h.Mgmt.Pusher(), Hooks: []jobs.EraseHook{h.bridge}}
	inproc := &testaws.InProcess{Handlers: map[string]func(context.Context, privacy.Event) error{"erase-fn": eraser.Handle}}
	svc := &privacy.Service{Store: st, Invoker: inproc, ExportFunction: "export-fn", EraseFunction: "erase-fn"}
	r, err := svc.Create(ctx, ten, privacy.Actor{KeyID: "k-test", Role: "owner"}, privacy.CreateInput{
		Type: chat.PrivacyErase, Subject: chat.PrivacySubject{Email: "erin@example.com"}, Reason: "subject_request"})
	if err != nil {
		t.Fatal(err)
	}
	if errs := inproc.Wait(); len(errs) > 0 {
		t.Fatalf("erase: %v", errs)
	}
	done, err := st.PrivacyRequest(ctx, ten.ID, r.ID)
	if err != nil || done.Status != chat.PrivacyCompleted {
		t.Fatalf("request %+v %v, want completed", done, err)
	}
	deleted, kept := 0, 0
	for _, m := range h.slack.Messages() {
		about := m.TS == subjectThread || m.ThreadTS == subjectThread
		if about != m.Deleted {
			t.Errorf("message %s (thread %q): deleted=%v, want %v", m.TS, m.ThreadTS, m.Deleted, about)
		}
		if m.Deleted {
			deleted++
		} else {
			kept++
		}
	}
	if deleted != 2 || kept != 2 {
		t.Errorf("deleted %d kept %d, want 2 and 2", deleted, kept)
	}
	if _, err := h.st.SlackThreadByTS(ctx, ten.ID, h.slack.TeamID, h.slack.ChannelID, subjectThread); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("thread lookup of the erased subject survived: %v", err)
	}
}
