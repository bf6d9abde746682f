package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// serveManagement plays the API Gateway management API of a connection:
// POST sends the body as a frame, GET describes the connection, DELETE closes
// it. An unknown connection answers 410 GoneException, as the SDK expects.
func (a *WebSocketAPI) serveManagement(w http.ResponseWriter, r *http.Request, id string) {
	a.mu.Lock()
	c, ok := a.conns[id]
	a.mu.Unlock()
	if !ok {
		awsError(w, http.StatusGone, "GoneException", fmt.Sprintf("connection %s is gone", id))
		return
	}
	switch r.Method {
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, a.cfg.MaxFrameBytes+1))
		if err != nil {
			awsError(w, http.StatusBadRequest, "BadRequestException", "cannot read body")
			return
		}
		if int64(len(body)) > a.cfg.MaxFrameBytes {
			awsError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "payload too large")
			return
		}
		if err := c.sendBytes(body); err != nil {
			awsError(w, http.StatusGone, "GoneException", fmt.Sprintf("connection %s is gone", id))
			return
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		c.mu.Lock()
		last := c.lastActiveAt
		c.mu.Unlock()
		b, _ := json.Marshal(map[string]any{
			"connectedAt":  c.connectedAt.UTC().Format(time.RFC3339Nano),
			"lastActiveAt": last.UTC().Format(time.RFC3339Nano),
			"identity":     map[string]string{"sourceIp": c.sourceIP, "userAgent": c.userAgent},
		})
		writeJSON(w, http.StatusOK, string(b))
	case http.MethodDelete:
		c.mu.Lock()
		if c.closeCode == 0 {
			c.closeCode, c.closeReason = 1000, "Connection closed by the server"
		}
		c.mu.Unlock()
		c.close(websocket.StatusNormalClosure, "")
		w.WriteHeader(http.StatusNoContent)
	default:
		awsError(w, http.StatusMethodNotAllowed, "BadRequestException", "method not allowed")
	}
}

// awsError writes an error the way the AWS REST-JSON protocol does, so SDK
// clients see a typed error (*types.GoneException, ...).
func awsError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("X-Amzn-ErrorType", typ)
	b, _ := json.Marshal(map[string]string{"message": msg})
	writeJSON(w, status, string(b))
}
