package dialogflow

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseResponse(t *testing.T) {
	cases := []struct {
		name, edition, channel, body string
		want                         *Result
	}{
		{"es unspecified for the widget", "es", "widget",
			`{"queryResult":{"fulfillmentText":"a","fulfillmentMessages":[{"text":{"text":["a"]}},{"platform":"TELEGRAM","text":{"text":["t"]}},{"platform":"PLATFORM_UNSPECIFIED","text":{"text":["b",""," "]}}]}}`,
			&Result{Texts: []string{"a", "b"}}},
		{"es the channel's platform only", "es", "telegram",
			`{"queryResult":{"fulfillmentMessages":[{"text":{"text":["a"]}},{"platform":"TELEGRAM","text":{"text":["t1","t2"]}},{"platform":"LINE","text":{"text":["l"]}}]}}`,
			&Result{Texts: []string{"t1", "t2"}}},
		{"es messenger is FACEBOOK", "es", "messenger",
			`{"queryResult":{"fulfillmentMessages":[{"text":{"text":["a"]}},{"platform":"FACEBOOK","text":{"text":["f"]}}]}}`,
			&Result{Texts: []string{"f"}}},
		{"es no message of the platform: unspecified", "es", "slack",
			`{"queryResult":{"fulfillmentMessages":[{"text":{"text":["a"]}},{"platform":"TELEGRAM","text":{"text":["t"]}}]}}`,
			&Result{Texts: []string{"a"}}},
		{"es no text messages: fulfillmentText", "es", "widget",
			`{"queryResult":{"fulfillmentText":"plain","fulfillmentMessages":[{"payload":{"x":1}}]}}`,
			&Result{Texts: []string{"plain"}}},
		{"es texts of another platform only: none", "es", "widget",
			`{"queryResult":{"fulfillmentText":"plain","fulfillmentMessages":[{"platform":"TELEGRAM","text":{"text":["t"]}}]}}`,
			&Result{}},
		{"es handoff payload", "es", "widget",
			`{"queryResult":{"fulfillmentMessages":[{"text":{"text":["wait"]}},{"payload":{"handoff":true,"reason":"x"}}]}}`,
			&Result{Texts: []string{"wait"}, Handoff: true}},
		{"es handoff not true", "es", "widget",
			`{"queryResult":{"fulfillmentMessages":[{"payload":{"handoff":"true"}},{"payload":{"Handoff":true}},{"payload":[{"handoff":true}]},{"payload":null}]}}`,
			&Result{}},
		{"es handoff of the platform", "es", "viber",
			`{"queryResult":{"fulfillmentMessages":[{"platform":"VIBER","payload":{"handoff":true}}]}}`,
			&Result{Handoff: true}},
		{"es handoff of another platform", "es", "viber",
			`{"queryResult":{"fulfillmentMessages":[{"platform":"LINE","payload":{"handoff":true}}]}}`,
			&Result{}},
		{"es end", "es", "widget",
			`{"queryResult":{"fulfillmentText":"bye","diagnosticInfo":{"end_conversation":true}}}`,
			&Result{Texts: []string{"bye"}, End: true}},
		{"cx texts of no channel and ours", "cx", "telegram",
			`{"queryResult":{"responseMessages":[{"text":{"text":["a"]}},{"text":{"text":["t"]},"channel":"telegram"},{"text":{"text":["w"]},"channel":"widget"},{"payload":{"handoff":true}}]}}`,
			&Result{Texts: []string{"a", "t"}}},
		{"cx handoff and end", "cx", "widget",
			`{"queryResult":{"responseMessages":[{"text":{"text":["bye"]}},{"liveAgentHandoff":{"metadata":{}}},{"endInteraction":{}}]}}`,
			&Result{Texts: []string{"bye"}, Handoff: true, End: true}},
		{"cx handoff of another channel", "cx", "widget",
			`{"queryResult":{"responseMessages":[{"liveAgentHandoff":{},"channel":"telegram"},{"liveAgentHandoff":null}]}}`,
			&Result{}},
		{"empty object", "cx", "widget", `{}`, &Result{}},
		{"unknown fields", "es", "widget", `{"responseId":"r","queryResult":{"intent":{"displayName":"x","isFallback":true},"intentDetectionConfidence":0.5,"outputContexts":[]}}`, &Result{}},
	}
	for _, c := range cases {
		got, err := parseResponse(c.edition, c.channel, []byte(c.body))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v %v, want %+v", c.name, got, err, c.want)
		}
	}
	for _, body := range []string{``, `null`, `[]`, `"x"`, `{"queryResult":{"fulfillmentMessages":{}}}`,
		`{"queryResult":{"responseMessages":[{"text":{"text":"one"}}]}}`, `{"queryResult":`, `{} x`} {
		for _, ed := range []string{"es", "cx"} {
			if r, err := parseResponse(ed, "widget", []byte(body)); !errors.Is(err, errMalformed) || r != nil {
				if ed == "es" && strings.Contains(body, "responseMessages") || ed == "cx" && strings.Contains(body, "fulfillmentMessages") {
					continue // the other edition's fields are not read
				}
				t.Errorf("%s %q: %+v %v", ed, body, r, err)
			}
		}
	}
	if _, err := parseResponse("v2", "widget", []byte(`{}`)); err == nil {
		t.Error("an unknown edition parsed")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	info := func(delay string) googleError {
		var ge googleError
		ge.Error.Details = append(ge.Error.Details, struct {
			Type       string `json:"@type"`
			RetryDelay string `json:"retryDelay"`
		}{"type.googleapis.com/google.rpc.RetryInfo", delay})
		return ge
	}
	cases := []struct {
		header string
		ge     googleError
		want   time.Duration
	}{
		{"", googleError{}, RetryAfterDefault},
		{"12", googleError{}, 12 * time.Second},
		{"12", info("3s"), 12 * time.Second},
		{now.Add(90 * time.Second).Format(http.TimeFormat), googleError{}, 90 * time.Second},
		{"", info("2.4s"), 2 * time.Second},
		{"", info("0.1s"), time.Second},
		{"", info("5m"), RetryAfterDefault},
		{"-3", googleError{}, RetryAfterDefault},
		{"99999999999", googleError{}, maxRetryAfter},
	}
	for _, c := range cases {
		h := http.Header{}
		if c.header != "" {
			h.Set("Retry-After", c.header)
		}
		if got := retryAfter(h, c.ge, now); got != c.want {
			t.Errorf("Retry-After %q %+v: %s, want %s", c.header, c.ge, got, c.want)
		}
	}
}

func TestCut(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"abcdef", 3, "abc"}, {"ééé", 2, "éé"}, {"a😀b", 2, "a😀"}, {"", 1, ""}} {
		if got := cut(c.in, c.n); got != c.want {
			t.Errorf("cut(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
