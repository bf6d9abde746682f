package dialogflow

import (
	"bytes"
	"encoding/json"
	"strings"
)

// esPlatforms are ES's platforms of our channels (the others have none).
var esPlatforms = map[string]string{
	"telegram":  "TELEGRAM",
	"line":      "LINE",
	"viber":     "VIBER",
	"messenger": "FACEBOOK",
	"slack":     "SLACK",
}

// esPlatform is ES's platform of our channel, "" if it has none.
func esPlatform(channel string) string { return esPlatforms[channel] }

type textMessage struct {
	Text []string `json:"text"`
}

type esResponse struct {
	QueryResult struct {
		FulfillmentText     string `json:"fulfillmentText"`
		FulfillmentMessages []struct {
			Platform string          `json:"platform"`
			Text     *textMessage    `json:"text"`
			Payload  json.RawMessage `json:"payload"`
		} `json:"fulfillmentMessages"`
		DiagnosticInfo json.RawMessage `json:"diagnosticInfo"`
	} `json:"queryResult"`
}

type cxResponse struct {
	QueryResult struct {
		ResponseMessages []struct {
			Channel          string          `json:"channel"`
			Text             *textMessage    `json:"text"`
			LiveAgentHandoff json.RawMessage `json:"liveAgentHandoff"`
			EndInteraction   json.RawMessage `json:"endInteraction"`
		} `json:"responseMessages"`
	} `json:"queryResult"`
}

// parseResponse is the Result for our channel of a detectIntent answer of
// edition (see the package doc). An answer that is not a JSON object of the
// expected shape is errMalformed.
func parseResponse(edition, channel string, raw []byte) (*Result, error) {
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, errMalformed
	}
	switch edition {
	case EditionES:
		var ans esResponse
		if json.Unmarshal(raw, &ans) != nil {
			return nil, errMalformed
		}
		return esResult(&ans, channel), nil
	case EditionCX:
		var ans cxResponse
		if json.Unmarshal(raw, &ans) != nil {
			return nil, errMalformed
		}
		return cxResult(&ans, channel), nil
	}
	return nil, errMalformed
}

func esResult(ans *esResponse, channel string) *Result {
	qr := &ans.QueryResult
	want := esPlatform(channel)
	unspecified := func(p string) bool { return p == "" || p == "PLATFORM_UNSPECIFIED" }
	ours, anyText := false, false
	for _, m := range qr.FulfillmentMessages {
		if m.Text == nil {
			continue
		}
		ours = ours || (want != "" && m.Platform == want)
		anyText = anyText || len(texts(nil, m.Text.Text)) > 0
	}
	r := &Result{}
	for _, m := range qr.FulfillmentMessages {
		kept := unspecified(m.Platform)
		if ours {
			kept = m.Platform == want
		}
		if m.Text != nil && kept {
			r.Texts = texts(r.Texts, m.Text.Text)
		}
		if m.Payload != nil && (unspecified(m.Platform) || (want != "" && m.Platform == want)) && handoffPayload(m.Payload) {
			r.Handoff = true
		}
	}
	if !anyText {
		r.Texts = texts(r.Texts, []string{qr.FulfillmentText})
	}
	var diag struct {
		EndConversation any `json:"end_conversation"`
	}
	if qr.DiagnosticInfo != nil && json.Unmarshal(qr.DiagnosticInfo, &diag) == nil && diag.EndConversation == true {
		r.End = true
	}
	return r
}

func cxResult(ans *cxResponse, channel string) *Result {
	r := &Result{}
	for _, m := range ans.QueryResult.ResponseMessages {
		if m.Channel != "" && m.Channel != channel {
			continue
		}
		if m.Text != nil {
			r.Texts = texts(r.Texts, m.Text.Text)
		}
		r.Handoff = r.Handoff || isObject(m.LiveAgentHandoff)
		r.End = r.End || isObject(m.EndInteraction)
	}
	return r
}

// texts is to with the non-blank ones of from.
func texts(to, from []string) []string {
	for _, t := range from {
		if strings.TrimSpace(t) != "" {
			to = append(to, t)
		}
	}
	return to
}

// handoffPayload says if an ES custom payload is our handoff: an object with
// "handoff": true.
func handoffPayload(raw json.RawMessage) bool {
	var p map[string]any
	return isObject(raw) && json.Unmarshal(raw, &p) == nil && p["handoff"] == true
}

// isObject says if raw is a JSON object (not absent, null or another value).
func isObject(raw json.RawMessage) bool {
	t := bytes.TrimLeft(raw, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}
