// Command hellofn is the smallest Go Lambda function: the baseline the local
// stack measures the cold start of the real functions against. It answers
// {"hello":"world"}, or the error "Unauthorized" when the event asks for it;
// it first sleeps sleepMs milliseconds when the event asks (a busy function).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, ev json.RawMessage) (map[string]string, error) {
		var in struct {
			Fail    bool `json:"fail"`
			SleepMs int  `json:"sleepMs"`
		}
		json.Unmarshal(ev, &in)
		time.Sleep(time.Duration(in.SleepMs) * time.Millisecond)
		if in.Fail {
			return nil, errors.New("Unauthorized")
		}
		return map[string]string{"hello": "world"}, nil
	})
}
