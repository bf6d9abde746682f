package ids

import (
	"testing"
	"time"
)

func TestDerived_IsStableValidAndTimeOrdered(t *testing.T) {
	at := time.UnixMilli(1_764_480_000_123)
	a := Derived(Message, at, "t1", "cv1", "cm1")
	if a != Derived(Message, at, "t1", "cv1", "cm1") || !Valid(Message, a) {
		t.Fatalf("Derived gave %q, then %q; want the same valid id", a, Derived(Message, at, "t1", "cv1", "cm1"))
	}
	for _, other := range []string{
		Derived(Message, at, "t1", "cv1", "cm2"),
		Derived(Message, at, "t1", "cv1c", "m1"), // parts are separated, not joined
		Derived(Message, at.Add(time.Millisecond), "t1", "cv1", "cm1"),
	} {
		if other == a {
			t.Errorf("different parts or time gave the same id %q", a)
		}
	}
	if later := Derived(Message, at.Add(time.Second), "t0"); later <= a {
		t.Errorf("an id a second later (%s) sorts before %s", later, a)
	}
}
