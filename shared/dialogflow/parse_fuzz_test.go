package dialogflow

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseResponse feeds parseResponse arbitrary bodies as ES and CX
// answers for several channels (seeds in testdata/fuzz/FuzzParseResponse:
// googlefake's answers, platform- and channel-specific texts, handoffs of
// both conventions, ends, Google's errors, malformed bodies). It never
// panics, fails only with errMalformed and then returns no Result, returns
// the same Result for the same body, and keeps only non-blank texts of
// valid UTF-8.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(`{"queryResult":{"fulfillmentMessages":[{"text":{"text":["a"]}},{"platform":"TELEGRAM","text":{"text":["t"]}},{"payload":{"handoff":true}}]}}`))
	f.Add([]byte(`{"queryResult":{"responseMessages":[{"text":{"text":["a"]},"channel":"telegram"},{"liveAgentHandoff":{}},{"endInteraction":{}}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, edition := range []string{EditionES, EditionCX} {
			for _, ch := range []string{"widget", "telegram", "messenger", ""} {
				r, err := parseResponse(edition, ch, body)
				if err != nil {
					if !errors.Is(err, errMalformed) || r != nil {
						t.Fatalf("%s %s: error %v with %+v", edition, ch, err, r)
					}
					continue
				}
				again, err := parseResponse(edition, ch, body)
				if err != nil || !reflect.DeepEqual(r, again) {
					t.Fatalf("%s %s: the same body parsed differently: %v", edition, ch, err)
				}
				for _, s := range r.Texts {
					if strings.TrimSpace(s) == "" || !utf8.ValidString(s) {
						t.Fatalf("%s %s: text %q", edition, ch, s)
					}
				}
			}
		}
	})
}
