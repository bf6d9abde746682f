package attachment_test

import (
	"context"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/shared/attachment"
)

// A file's key is the same for the same message and index (a retried ingest
// overwrites its own object), lies under its contact's prefix (export and
// erasure find it), and carries no character of the provider's id.
func TestKey(t *testing.T) {
	k := attachment.Key("t1", "c1", "messenger:m_ABC/../x", 0)
	if k != attachment.Key("t1", "c1", "messenger:m_ABC/../x", 0) {
		t.Error("the key changes")
	}
	if !strings.HasPrefix(k, attachment.ContactPrefix("t1", "c1")) || strings.Contains(k, "..") || strings.Contains(k, "m_ABC") {
		t.Errorf("key %q", k)
	}
	for _, other := range []string{attachment.Key("t1", "c1", "messenger:m_ABC/../x", 1), attachment.Key("t1", "c1", "messenger:m_ABD", 0),
		attachment.Key("t1", "c2", "messenger:m_ABC/../x", 0)} {
		if other == k {
			t.Errorf("two files share the key %q", k)
		}
	}
	if strings.HasPrefix(attachment.ContactPrefix("t1", "c10"), attachment.ContactPrefix("t1", "c1")) {
		t.Error("a contact's prefix is a prefix of another contact's")
	}
}

// An erasure without a tenant or contact id is refused before it lists
// anything: it would name every file of a tenant, or of every tenant.
func TestEraseSubjectNeedsBothIDs(t *testing.T) {
	s := &attachment.Store{Bucket: "b"} // no Objects: a call would panic
	for _, ids := range [][2]string{{"", "c1"}, {"t1", ""}} {
		if err := s.EraseSubject(context.Background(), ids[0], ids[1]); err == nil {
			t.Errorf("%q: erased", ids)
		}
	}
}

// A file over MaxBytes is refused before it is stored.
func TestPutRefusesTooLarge(t *testing.T) {
	s := &attachment.Store{Bucket: "b"}
	if _, err := s.Put(context.Background(), "t", "c", "k", 0, "", "", make([]byte, attachment.MaxBytes+1)); err != attachment.ErrTooLarge {
		t.Errorf("got %v, want ErrTooLarge", err)
	}
}
