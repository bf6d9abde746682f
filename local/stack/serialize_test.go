package stack

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestStall_AppliesRequestsAndHoldsTheirAnswers checks the fault hook: during
// a stall of PutItem, a PutItem reaches moto at once but its answer waits for
// the stall's end, while other operations are answered as usual; afterwards
// nothing is held.
func TestStall_AppliesRequestsAndHoldsTheirAnswers(t *testing.T) {
	var applied atomic.Int32
	moto := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutItem") {
			applied.Add(1)
		}
		io.WriteString(w, "{}")
	}))
	defer moto.Close()
	url, stop, st, _, err := serialProxy(moto.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	call := func(op string) time.Duration {
		t.Helper()
		req, _ := http.NewRequest("POST", url, strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
		start := time.Now()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != "{}" {
			t.Fatalf("%s answered %q", op, b)
		}
		return time.Since(start)
	}
	const d = 600 * time.Millisecond
	st.start(d, []string{"PutItem"})
	held := make(chan time.Duration)
	go func() { held <- call("PutItem") }()
	deadline := time.Now().Add(d / 2)
	for applied.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if applied.Load() != 1 {
		t.Fatal("the stalled PutItem did not reach moto at once")
	}
	if got := call("GetItem"); got >= d/2 {
		t.Errorf("GetItem, not stalled, took %v", got)
	}
	if got := <-held; got < d*3/4 {
		t.Errorf("the stalled PutItem was answered after %v, before the stall of %v ended", got, d)
	}
	if got := call("PutItem"); got >= d/2 {
		t.Errorf("a PutItem after the stall took %v", got)
	}
}
