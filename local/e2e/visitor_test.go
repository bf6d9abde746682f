package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/livesupportbot/backend/local/stack"
)

// visitor is a widget client speaking the public contract over real sockets.
type visitor struct {
	Token, ID, WSURL string
	conn             *websocket.Conn
	frames           chan map[string]any
}

var seq atomic.Int64

// session asks for a visitor session as the widget does.
func session(tb testing.TB, s *stack.Stack, widgetKey, token string) (int, map[string]string) {
	tb.Helper()
	body, _ := json.Marshal(map[string]string{"widgetKey": widgetKey, "visitorToken": token})
	req, _ := http.NewRequest("POST", s.APIURL+"/widget/v1/session", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", s.HTTPURL)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	out := map[string]string{}
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func newVisitor(tb testing.TB, s *stack.Stack, widgetKey string) *visitor {
	tb.Helper()
	status, out := session(tb, s, widgetKey, "")
	if status != http.StatusOK || out["visitorToken"] == "" || out["websocketUrl"] == "" {
		tb.Fatalf("session: %d %v", status, out)
	}
	v := &visitor{Token: out["visitorToken"], ID: out["visitorId"], WSURL: out["websocketUrl"]}
	v.dial(tb)
	return v
}

func (v *visitor) dial(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, v.WSURL+"?token="+url.QueryEscape(v.Token), nil)
	if err != nil {
		tb.Fatalf("dial: %v (%v)", err, res)
	}
	c.SetReadLimit(1 << 20)
	v.conn = c
	v.frames = make(chan map[string]any, 1024)
	go func() {
		defer close(v.frames)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var f map[string]any
			if json.Unmarshal(b, &f) == nil {
				v.frames <- f
			}
		}
	}()
	tb.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
}

func (v *visitor) send(tb testing.TB, frame map[string]any) {
	tb.Helper()
	b, _ := json.Marshal(frame)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := v.conn.Write(ctx, websocket.MessageText, b); err != nil {
		tb.Fatalf("write: %v", err)
	}
}

// next waits for the first frame that satisfies match, dropping others.
func (v *visitor) next(tb testing.TB, what string, match func(map[string]any) bool) map[string]any {
	tb.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case f, ok := <-v.frames:
			if !ok {
				tb.Fatalf("connection closed waiting for %s", what)
			}
			if match(f) {
				return f
			}
		case <-timeout:
			tb.Fatalf("timed out waiting for %s", what)
		}
	}
}

func typeIs(t string) func(map[string]any) bool {
	return func(f map[string]any) bool { return f["type"] == t }
}

// sendMessage sends a message and waits for its ack; it returns the stored message.
func (v *visitor) sendMessage(tb testing.TB, text string) map[string]any {
	tb.Helper()
	cmid := fmt.Sprintf("m-%d", seq.Add(1))
	v.send(tb, map[string]any{"action": "sendMessage", "clientMessageId": cmid, "text": text})
	f := v.next(tb, "ack of "+cmid, func(f map[string]any) bool {
		if f["type"] == "error" {
			tb.Fatalf("error frame: %v", f)
		}
		return f["type"] == "ack" && f["clientMessageId"] == cmid
	})
	m, _ := f["message"].(map[string]any)
	return m
}

func TestGateway_ConnectGoesThroughTheRealAuthorizer(t *testing.T) {
	s := localStack(t)
	ten := newTenant(t, s)
	_, out := session(t, s, ten.WidgetKey, "")
	ws := out["websocketUrl"]
	if !strings.HasPrefix(ws, s.WSURL) {
		t.Fatalf("websocketUrl %q is not the local gateway's %q", ws, s.WSURL)
	}
	tests := []struct {
		name  string
		query string
		want  int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"forged token", "?token=eyJ0IjoiVDEifQ.c2ln", http.StatusUnauthorized},
		{"token of another secret", "?token=" + url.QueryEscape(strings.Replace(out["visitorToken"], ".", ".x", 1)), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, res, err := websocket.Dial(context.Background(), ws+tt.query, nil)
			if err == nil || res == nil || res.StatusCode != tt.want {
				t.Fatalf("dial = %v, %v; want %d", res, err, tt.want)
			}
		})
	}
}

func TestGateway_FramesReachRoutesWithTheConnectionsIdentity(t *testing.T) {
	s := localStack(t)
	ten := newTenant(t, s)
	v := newVisitor(t, s, ten.WidgetKey)
	v.send(t, map[string]any{"action": "ping"})
	v.next(t, "pong", typeIs("pong"))
	// An unknown action takes $default, which ws-message answers.
	v.send(t, map[string]any{"action": "dance"})
	if f := v.next(t, "error", typeIs("error")); f["code"] != "invalid" {
		t.Errorf("unknown action answered %v", f)
	}
	m := v.sendMessage(t, "hello")
	if m["id"] == "" || m["conversationId"] == "" || m["text"] != "hello" {
		t.Fatalf("ack message = %v", m)
	}
	// A second connection of the same visitor gets the message fanned out by
	// dispatch through the @connections API, and the history of the conversation.
	v2 := &visitor{Token: v.Token, WSURL: v.WSURL}
	v2.dial(t)
	v2.send(t, map[string]any{"action": "history"})
	h := v2.next(t, "history", typeIs("history"))
	if msgs, _ := h["messages"].([]any); len(msgs) != 1 {
		t.Errorf("history = %v", h)
	}
	v.sendMessage(t, "second")
	// (dispatch may still deliver "hello" to v2, which connected meanwhile.)
	v2.next(t, "fan-out of the second message", func(f map[string]any) bool {
		mm, _ := f["message"].(map[string]any)
		return f["type"] == "message" && mm["text"] == "second"
	})
	// The health check says every function answered, and how much memory
	// moto holds.
	res, err := http.Get(s.HTTPURL + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz = %v, %v", res, err)
	}
	defer res.Body.Close()
	var health struct {
		Functions    int   `json:"functions"`
		MotoRSSBytes int64 `json:"motoRssBytes"`
	}
	if err := json.NewDecoder(res.Body).Decode(&health); err != nil || health.Functions == 0 || health.MotoRSSBytes < 1<<20 {
		t.Errorf("healthz body %+v (%v): want the functions and moto's resident memory", health, err)
	}
}
