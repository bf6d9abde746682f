package privacy_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/privacy/jobs"
	"github.com/livesupportbot/backend/shared/pusher"
	"github.com/livesupportbot/backend/shared/store"
)

// partitionsOf reports whether an item is in one of a person's partitions
// (their contact partition or one of their conversations), in either table.
func (p person) owns(it stored) bool {
	if it.pk == store.ContactPK(p.tenantID, p.contactID) {
		return true
	}
	for _, cv := range p.convs {
		if it.pk == store.ConversationPK(p.tenantID, cv) {
			return true
		}
	}
	return false
}

// invoke plays Lambda's asynchronous invocation of privacy-erase: the first
// try and up to two retries, all under the same request id, until one
// succeeds. It returns how many tries ran.
func invoke(e *jobs.Eraser, r *chat.PrivacyRequest, requestID string) int {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: requestID})
	for try := 1; ; try++ {
		if err := e.Handle(ctx, ev(r)); err == nil || try == 3 {
			return try
		}
	}
}

// TestEraseFaults_SubjectFullyErasedAfterFaultsAndRequestsCountEachItemOnce
// erases a subject (by email) while a tenth of privacy-erase's DynamoDB calls
// are throttled or time out (half after DynamoDB applied them), with Lambda's
// retries of the asynchronous invocation. Once the faults stop, a request that
// did not complete is filed again by the owner, as the API lets them. Counting
// items: nothing of the subject is left in either table, another visitor's
// items are untouched, and the counts the requests report add up to the items
// deleted (none counted twice or missed).
func TestEraseFaults_SubjectFullyErasedAfterFaultsAndRequestsCountEachItemOnce(t *testing.T) {
	for _, seed := range []uint64{0, 2, 25, 27, 31, 40} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { eraseWithFaults(t, seed) })
	}
}

func eraseWithFaults(t *testing.T, seed uint64) {
	f := newFixture(t)
	alice := f.seed(f.tenant, "a."+strings.ToLower(ids.Secret(4))+"@example.com", 30)
	bob := f.seed(f.tenant, "b."+strings.ToLower(ids.Secret(4))+"@example.com", 5)
	aliceItems, bobItems := 0, 0
	for _, it := range f.scanAll() {
		switch {
		case alice.owns(it):
			aliceItems++
		case bob.owns(it):
			bobItems++
		}
	}

	faults := testaws.NewFaults(seed)
	var later time.Duration // how far the function's clock is ahead of now
	st := store.New(faults.Client(testaws.Config(t)), f.tt.Data, f.tt.Archive).WithSubjectKey([]byte("test subject hash key, 32 bytes!")).
		WithClock(func() time.Time { return time.Now().Add(later) })
	eraser := &jobs.Eraser{Store: st, S3: f.bucket.S3, Bucket: f.bucket.Name,
		Connections: pusher.New(f.mgmt), Hooks: []jobs.EraseHook{f.hook}}
	subject := chat.PrivacySubject{Email: alice.email}
	first := f.request(chat.PrivacyErase, chat.ReasonSubjectRequest, subject)
	faults.Set(testaws.FaultSpec{Rate: 0.1, After: 0.5, Timeout: 0.3})
	tries := invoke(eraser, first, "lambda-1")
	faults.Off()
	t.Logf("with faults: %s", faults.Summary())
	r := f.get(first.ID)
	t.Logf("first request after %d tries with faults: %s %q, attempts %d, errors %v, counts %v", tries, r.Status, r.StatusReason, r.Attempts, r.Errors, r.Counts)
	// What the tables hold of her now decides what the recovery can find.
	pointers := 0 // request pointers (PRIVREQ#) written into her partition
	resolved := r.Resolved && slices.Contains(r.ContactIDs, alice.contactID) || r.Status == chat.PrivacyCompleted
	if resolved {
		pointers++
	}
	_, err := f.st.Contact(context.Background(), f.tenant.ID, alice.contactID)
	findable := err == nil // a request (or its retry) that resolves now finds her by email
	reqs := []string{first.ID}
	switch r.Status {
	case chat.PrivacyCompleted:
	case chat.PrivacyReceived, chat.PrivacyProcessing:
		// Lambda gave up while the request could not even be marked failed:
		// the event is in PrivacyFailureQueue, and redriving it is a new
		// invocation of the same event, once the last try's lease ran out.
		t.Logf("the request was left %s after Lambda's last try; redriving its event", r.Status)
		later = jobs.DefaultLease + time.Minute
		if !resolved && findable {
			pointers++
		}
		invoke(eraser, first, "lambda-redrive")
	case chat.PrivacyFailed:
		// The owner files the request again.
		if findable {
			pointers++ // the new request finds her by email and points to itself from her partition
		}
		again := f.request(chat.PrivacyErase, chat.ReasonSubjectRequest, subject)
		invoke(eraser, again, "lambda-2")
		reqs = append(reqs, again.ID)
	default:
		t.Fatalf("first request: %s %q", r.Status, r.StatusReason)
	}
	if last := f.get(reqs[len(reqs)-1]); last.Status != chat.PrivacyCompleted {
		t.Fatalf("the request after the faults: %s %q", last.Status, last.StatusReason)
	}

	left, bobLeft := 0, 0
	for _, it := range f.scanAll() {
		switch {
		case alice.owns(it):
			left++
			t.Errorf("%s item %s / %s of the erased subject is left", it.table, it.pk, it.sk)
		case bob.owns(it):
			bobLeft++
		}
		for _, v := range append(alice.identifiers(), alice.text) {
			if !alice.owns(it) && strings.Contains(it.json, v) {
				t.Errorf("%s item %s / %s holds %q", it.table, it.pk, it.sk, v)
			}
		}
	}
	counted := 0
	for _, id := range reqs {
		r := f.get(id)
		counted += r.Counts["dataItems"] + r.Counts["archiveItems"]
	}
	for _, kind := range []string{chat.SuppressEmail, chat.SuppressContact} {
		v := alice.email
		if kind == chat.SuppressContact {
			v = alice.contactID
		}
		if ok, err := f.st.IsSuppressed(context.Background(), f.tenant.ID, kind, v); err != nil || !ok {
			t.Errorf("%s of the subject not suppressed (%v)", kind, err)
		}
	}
	aliceItems += pointers
	t.Logf("erase: subject items %d (with %d request pointers), erased %d, left %d, counted by %d request(s) %d; other visitor's items %d, left %d",
		aliceItems, pointers, aliceItems-left, left, len(reqs), counted, bobItems, bobLeft)
	if bobLeft != bobItems {
		t.Errorf("the other visitor has %d items, had %d", bobLeft, bobItems)
	}
	if counted != aliceItems-left {
		t.Errorf("the requests count %d erased items, the tables show %d", counted, aliceItems-left)
	}
}
