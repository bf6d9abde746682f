package widgetsession_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/chat"
	"github.com/livesupportbot/backend/shared/ratelimit"
)

// The default per-network limit of POST /widget/v1/session (docs/CONTRACT.md).
var (
	sessionBurst     = ratelimit.Defaults[ratelimit.Session].Burst
	sessionPerMinute = float64(ratelimit.Defaults[ratelimit.Session].PerMinute)
)

// TestSession_PerNetworkLimit: sessions of one tenant from one /24 (IPv6: /48)
// are limited with a 429 and Retry-After; another network, and the same
// network at another tenant, are not held back.
func TestSession_PerNetworkLimit(t *testing.T) {
	st := testaws.NewTables(t).Store()
	h := newHandler(st, nil, nil)
	ctx := context.Background()
	shop, other := newTenant(t, st), newTenant(t, st)
	call := func(tn *chat.Tenant, ip string) events.APIGatewayV2HTTPResponse {
		req := sampleRequest(t)
		req.RequestContext.HTTP.SourceIP = ip
		req.Body = `{"widgetKey":"` + tn.WidgetKey + `"}`
		res, err := h.Handle(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, net := range []struct{ name, ip string }{{"IPv4 /24", "198.51.100.%d"}, {"IPv6 /48", "2001:db8:7:%x::1"}} {
		t.Run(net.name, func(t *testing.T) {
			ok, limited := 0, 0
			start := time.Now()
			for i := range 2*sessionBurst + 10 {
				res := call(shop, fmt.Sprintf(net.ip, i%250+1))
				switch res.StatusCode {
				case 200:
					ok++
				case 429:
					limited++
					var p map[string]any
					json.Unmarshal([]byte(res.Body), &p)
					if s, err := strconv.Atoi(res.Headers["retry-after"]); err != nil || s < 1 || p["status"] != float64(429) {
						t.Fatalf("429 with retry-after %q and body %s", res.Headers["retry-after"], res.Body)
					}
				default:
					t.Fatalf("status %d: %s", res.StatusCode, res.Body)
				}
			}
			if limited == 0 || ok > sessionBurst+int(math.Ceil(time.Since(start).Minutes()*sessionPerMinute)) {
				t.Fatalf("%d sessions from one network: %d issued, %d limited", 2*sessionBurst+10, ok, limited)
			}
			if res := call(other, fmt.Sprintf(net.ip, 7)); res.StatusCode != 200 {
				t.Fatalf("the same network at another tenant: %d", res.StatusCode)
			}
		})
	}
	if res := call(shop, "192.0.2.1"); res.StatusCode != 200 {
		t.Fatalf("another network: %d", res.StatusCode)
	}
}
