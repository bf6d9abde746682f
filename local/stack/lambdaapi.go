package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/livesupportbot/backend/local/lambdarunner"
)

// lambdaAPI is the Lambda Invoke API for the functions' own SDK calls
// (AWS_ENDPOINT_URL_LAMBDA): RequestResponse and Event invocations.
type lambdaAPI struct{ s *Stack }

func (a lambdaAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if i := strings.LastIndex(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	}
	name, _, _ = strings.Cut(name, ":")
	p, ok := a.s.Functions[name]
	if !ok {
		w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"Type":"User","message":"Function not found: %s"}`, name)
		return
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	if r.Header.Get("X-Amz-Invocation-Type") == "Event" {
		go func() {
			if _, err := p.Invoke(context.Background(), payload); err != nil {
				a.s.log.Error("async invocation failed", "function", name, "error", err)
			}
		}()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	out, err := p.Invoke(r.Context(), payload)
	var fe *lambdarunner.FunctionError
	switch {
	case errors.As(err, &fe):
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		b, _ := json.Marshal(fe)
		w.Write(b)
	case err != nil:
		w.Header().Set("X-Amzn-ErrorType", "ServiceException")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"message":"invoke failed"}`)
	default:
		w.Write(out)
	}
}
