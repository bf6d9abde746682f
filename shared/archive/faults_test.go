package archive_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/archive"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ids"
	"github.com/livesupportbot/backend/shared/retention"
	"github.com/livesupportbot/backend/shared/store"
)

// TestArchiveFaults_EveryExpiredItemArchivedOnceOrKept expires the
// conversations of three visitors (one plain, one put on legal hold after TTL
// removed their items, one erased) and feeds the TTL removals to the archive
// function while a quarter of its DynamoDB calls are throttled or time out
// (half after DynamoDB applied them), the stream redelivering failed records;
// then the faults stop and the stream catches up. Counting items: every
// communication item of the plain visitor is in the Archive table once and
// gone from Data, every item of the held one is back in Data without expiresAt
// and not archived, nothing of the erased one is archived, and the expired
// conversations are no longer their contacts' open ones.
func TestArchiveFaults_EveryExpiredItemArchivedOnceOrKept(t *testing.T) {
	const perConversation = 8
	e := setup(t)
	ctx := context.Background()
	plain, held, erased := e.contact, ids.New(ids.Contact), ids.New(ids.Contact)
	convs := map[string]string{plain: e.conv.ID}
	for _, c := range []string{held, erased} {
		_, cv, err := e.st.OpenConversation(ctx, e.tenant.ID, c, chat.ChannelWidget, e.tenant.Periods())
		if err != nil {
			t.Fatal(err)
		}
		convs[c] = cv
	}
	for c, cv := range convs {
		for i := range perConversation {
			*e.now = e.now.Add(time.Minute)
			if _, _, err := e.st.PutMessage(ctx, &chat.Message{TenantID: e.tenant.ID, ConversationID: cv, ContactID: c,
				Author: chat.Author{Kind: chat.AuthorVisitor}, Text: fmt.Sprintf("message %d", i), Channel: chat.ChannelWidget,
				ClientMessageID: fmt.Sprintf("cm-%d", i)}, e.tenant.Periods()); err != nil {
				t.Fatal(err)
			}
		}
	}
	*e.now = t0.Add(11 * 24 * time.Hour) // past the 10-day communication period
	recs := e.tt.ExpireTTL(t, *e.now)
	if err := e.st.Suppress(ctx, e.tenant.ID, chat.SuppressContact, erased, "r1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.SetContactHold(ctx, e.tenant.ID, held, true); err != nil {
		t.Fatal(err)
	}
	// What TTL removed, by subject: every communication item of the three
	// conversations (meta, messages, the contact's pointer).
	removed := map[string][]string{}
	for _, r := range recs {
		img := r.Change.OldImage
		if img["dataClass"].String() != string(retention.Communication) {
			t.Fatalf("TTL removed a %s item", img["dataClass"].String())
		}
		pk := img["PK"].String()
		c, ok := strings.CutPrefix(pk, store.ContactPK(e.tenant.ID, ""))
		for contact, cv := range convs {
			if pk == store.ConversationPK(e.tenant.ID, cv) {
				c, ok = contact, true
			}
		}
		if !ok {
			t.Fatalf("TTL removed %s, of no conversation", pk)
		}
		removed[c] = append(removed[c], img["PK"].String()+" "+img["SK"].String())
	}
	for c := range convs {
		if n := len(removed[c]); n != perConversation+2 {
			t.Fatalf("TTL removed %d items of %s, want %d", n, c, perConversation+2)
		}
	}

	faults := testaws.NewFaults(31)
	st := store.New(faults.Client(testaws.Config(t)), e.tt.Data, e.tt.Archive).
		WithClock(func() time.Time { return *e.now }).WithSubjectKey(subjectKey)
	h := archive.New(archive.Deps{Store: st, Suppressions: st, Log: slog.New(slog.NewJSONHandler(e.log, nil))})
	src := &testaws.EventSource{BatchSize: 10, Handle: h.Handle}
	faults.Set(testaws.FaultSpec{Rate: 0.25, After: 0.5, Timeout: 0.3})
	left, err := src.Run(ctx, recs, 8)
	if err != nil {
		t.Fatal(err)
	}
	faults.Off()
	t.Logf("with faults: %s", faults.Summary())
	leftWithFaults := len(left)
	if left, err = src.Run(ctx, left, 100); err != nil || len(left) != 0 {
		t.Fatalf("%d records still failing with the faults off: %v", len(left), err)
	}

	keys := func(items []map[string]types.AttributeValue) map[string]map[string]types.AttributeValue {
		out := map[string]map[string]types.AttributeValue{}
		for _, it := range items {
			out[str(it["PK"])+" "+str(it["SK"])] = it
		}
		return out
	}
	data, arch := keys(e.tt.ScanAll(t, e.tt.Data)), keys(e.tt.ScanAll(t, e.tt.Archive))
	archived, restored, lost, doubled := 0, 0, 0, 0
	for c, ks := range removed {
		for _, k := range ks {
			inData, inArchive := data[k] != nil, arch[k] != nil
			switch {
			case inData && inArchive:
				doubled++
				t.Errorf("%s is both back in Data and archived", k)
			case c == plain && inArchive:
				archived++
				hot := arch[k]["hotExpiresAt"].(*types.AttributeValueMemberN).Value
				want := fmt.Sprint(store.ArchiveExpiry(e.tenant.Periods(), mustInt(hot)))
				if got := arch[k]["expiresAt"].(*types.AttributeValueMemberN).Value; got != want {
					t.Errorf("archived %s expires at %s, want %s", k, got, want)
				}
			case c == held && inData:
				restored++
				if data[k]["expiresAt"] != nil {
					t.Errorf("held item %s restored with expiresAt", k)
				}
			case c == erased && (inData || inArchive):
				t.Errorf("item %s of the erased subject survived (data %v, archive %v)", k, inData, inArchive)
			case c != erased:
				lost++
				t.Errorf("item %s of %s is in neither table", k, c)
			}
		}
	}
	if len(arch) != archived {
		t.Errorf("the archive holds %d items, want the %d of the plain visitor", len(arch), archived)
	}
	for c, cv := range convs {
		ct, err := e.st.Contact(ctx, e.tenant.ID, c)
		if err != nil {
			t.Fatal(err)
		}
		if c != held && ct.OpenConversationID == cv {
			t.Errorf("contact %s still has its expired conversation open", c)
		}
	}
	redelivered := 0
	for _, d := range src.Deliveries {
		redelivered += d - 1
	}
	t.Logf("archive: TTL removals %d (plain %d, held %d, erased %d), archived %d, restored %d, lost %d, doubled %d; invocations %d, record redeliveries %d, records still failing when the faults stopped %d",
		len(recs), len(removed[plain]), len(removed[held]), len(removed[erased]), archived, restored, lost, doubled,
		src.Invocations, redelivered, leftWithFaults)
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}
