// Command hellofn is the smallest Go Lambda function: the baseline the local
// stack measures the cold start of the real functions against. It answers
// {"hello":"world"}, or the error "Unauthorized" when the event asks for it.
package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, ev json.RawMessage) (map[string]string, error) {
		var in struct {
			Fail bool `json:"fail"`
		}
		json.Unmarshal(ev, &in)
		if in.Fail {
			return nil, errors.New("Unauthorized")
		}
		return map[string]string{"hello": "world"}, nil
	})
}
