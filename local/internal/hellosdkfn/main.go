// Command hellosdkfn is hello-world plus what every function of ours starts
// with: the AWS SDK's default configuration and a DynamoDB client. Beside
// hellofn it shows how much of a cold start the SDK alone costs.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		panic(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	lambda.Start(func(ctx context.Context, ev json.RawMessage) (map[string]bool, error) {
		return map[string]bool{"client": db != nil}, nil
	})
}
