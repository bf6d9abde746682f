package privacy_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/privacy"
)

// TestHandle_SampleEvents runs both functions on the sample events that
// `sam local invoke -e events/privacy-*.json` uses.
func TestHandle_SampleEvents(t *testing.T) {
	for _, tc := range []struct{ file, typ string }{
		{"privacy-export.json", chat.PrivacyExport},
		{"privacy-erase.json", chat.PrivacyErase},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			raw, err := os.ReadFile(filepath.Join(testaws.RepoRoot(t), "events", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var ev privacy.Event
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ev); err != nil {
				t.Fatal(err)
			}
			// The sample's tenant and request, with a subject.
			tn := &chat.Tenant{ID: ev.TenantID, Name: "Sample", Status: "active"}
			if err := f.st.PutTenant(ctx, tn); err != nil {
				t.Fatal(err)
			}
			f.tenant = tn
			p := f.seed(tn, "sample@example.com", 2)
			r := f.request(tc.typ, chat.ReasonSubjectRequest, chat.PrivacySubject{ContactID: p.contactID})
			r.ID = ev.RequestID
			if err := f.st.PutPrivacyRequest(ctx, r); err != nil {
				t.Fatal(err)
			}
			h := f.exporter.Handle
			if tc.typ == chat.PrivacyErase {
				h = f.eraser.Handle
			}
			if err := h(ctx, ev); err != nil {
				t.Fatal(err)
			}
			if got := f.get(ev.RequestID); got.Status != chat.PrivacyCompleted {
				t.Errorf("status %s %v", got.Status, got.Errors)
			}
			// The wrong function for the request fails, and changes nothing.
			other := f.eraser.Handle
			if tc.typ == chat.PrivacyErase {
				other = f.exporter.Handle
			}
			if err := other(ctx, privacy.Event{TenantID: ev.TenantID, RequestID: "r-missing"}); err == nil {
				t.Error("a missing request was processed")
			}
		})
	}
}
