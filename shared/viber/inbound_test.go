package viber_test

import (
	"errors"
	"hash/fnv"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/channeltest"
	"github.com/livesupportbot/backend/local/viberfake"
	"github.com/livesupportbot/backend/shared/channel"
	"github.com/livesupportbot/backend/shared/viber"
)

const authToken = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"

func signed(t testing.TB, body []byte, token string) channel.Request {
	return channel.Request{Method: "POST", Body: body, Query: map[string]string{"sig": "ignored"},
		Headers: map[string]string{"content-type": "application/json", viber.SignatureHeader: viberfake.Sign(body, token)}}
}

func TestVerify(t *testing.T) {
	body := viberfake.TextMessage(viberfake.FirstMessageToken, "user1", "Ana", "hello")
	good := viberfake.Sign(body, authToken)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		query   map[string]string
		body    []byte
		token   string
		reason  string // in the error; "" for success
	}{
		{"good", map[string]string{"x-viber-content-signature": good}, nil, body, authToken, ""},
		{"header as Viber spells it", map[string]string{"X-Viber-Content-Signature": good}, nil, body, authToken, ""},
		{"upper-case hex is the same digest", map[string]string{"x-viber-content-signature": strings.ToUpper(good)}, nil, body, authToken, ""},
		{"sig query is ignored", map[string]string{"x-viber-content-signature": good}, map[string]string{"sig": "00"}, body, authToken, ""},
		{"wrong token", map[string]string{"x-viber-content-signature": viberfake.Sign(body, "other")}, nil, body, authToken, "does not match"},
		{"changed body", map[string]string{"x-viber-content-signature": good}, nil, append([]byte(" "), body...), authToken, "does not match"},
		{"missing header", map[string]string{}, nil, body, authToken, "no x-viber-content-signature"},
		{"signature only in the query", map[string]string{}, map[string]string{"sig": good}, body, authToken, "no x-viber-content-signature"},
		{"sha256= prefix", map[string]string{"x-viber-content-signature": "sha256=" + good}, nil, body, authToken, "not a hex"},
		{"short digest", map[string]string{"x-viber-content-signature": good[:40]}, nil, body, authToken, "not a hex"},
		{"empty token verifies nothing", map[string]string{"x-viber-content-signature": viberfake.Sign(body, "")}, nil, body, "", "no viber auth token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := viber.Inbound{}.Verify(channel.Request{Method: "POST", Headers: tc.headers, Query: tc.query, Body: tc.body}, tc.token)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, channel.ErrUnverified) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("Verify: %v, want ErrUnverified naming %q", err, tc.reason)
			}
			if strings.Contains(err.Error(), authToken) || strings.Contains(strings.ToLower(err.Error()), good) {
				t.Fatalf("error %q names the token or the signature", err)
			}
		})
	}
}

// tokenOf is a message token for a contract event id: above 2^53, the same
// for the same id.
func tokenOf(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64() | 1<<62
}

func TestInboundContract(t *testing.T) {
	channeltest.RunInbound(t, channeltest.Inbound{
		Adapter: viber.Inbound{}, Secret: authToken, Sign: signed,
		Message: func(id, text string) []byte {
			return viberfake.TextMessage(tokenOf(id), "01234567890A=", "Ana", text)
		},
		Malformed: []byte(`{"timestamp":1457764197627,"message_token":4912661846655238145}`),
	})
	if (viber.Inbound{}).Channel() != "viber" {
		t.Errorf("Channel() = %q", viber.Inbound{}.Channel())
	}
}
