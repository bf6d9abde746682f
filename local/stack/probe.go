package stack

import "github.com/livesupportbot/backend/local/cfntemplate"

// probeEvents returns, by function id, the event the readiness probe sends
// it: one it takes as a no-op, so a clean start logs no error. A function of
// a stream mapping gets an empty batch ({"Records":[]}: a stream handler
// answers it with nothing to do; `{}` is no batch to dispatch, an error); one
// of an HTTP route, a schedule or a WebSocket route gets `{}`, as before. A
// function with none of these (the privacy functions, invoked only by the
// admin API with a request to carry out) gets no probe: any event made up
// here would be a request it must refuse, and it has no cold start to show
// until its first real invoke.
func probeEvents(fns []cfntemplate.Function, wsAPIs []cfntemplate.WebSocketAPI) map[string][]byte {
	routed := map[string]bool{}
	for _, a := range wsAPIs {
		for _, rt := range a.Routes {
			routed[rt.Function] = true
			if rt.Authorizer != "" {
				routed[rt.Authorizer] = true
			}
		}
	}
	out := map[string][]byte{}
	for _, f := range fns {
		for _, ev := range f.Events {
			switch ev.Type {
			case "DynamoDB":
				out[f.ID] = []byte(`{"Records":[]}`)
			case "HttpApi", "Schedule", "ScheduleV2":
				if _, ok := out[f.ID]; !ok {
					out[f.ID] = []byte(`{}`)
				}
			}
		}
		if _, ok := out[f.ID]; !ok && routed[f.ID] {
			out[f.ID] = []byte(`{}`)
		}
	}
	return out
}
