// Command privacy-export is invoked asynchronously when an export request is
// created: it gathers every item about the subject from the Data and Archive
// tables, writes one JSON document to the export bucket (server-side encrypted)
// and records a presigned download link that expires.
package main

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/privacy/jobs"
)

func main() {
	cfg, st := awsclients.MustStore(context.Background(), os.Getenv)
	env, err := awsclients.Env(os.Getenv, "EXPORT_BUCKET")
	if err != nil {
		awsclients.Fatal(err)
	}
	ttl := jobs.DefaultLinkTTL
	if h, err := strconv.Atoi(os.Getenv("EXPORT_LINK_TTL_HOURS")); err == nil && h > 0 && h <= 168 {
		ttl = time.Duration(h) * time.Hour
	}
	s3c := jobs.NewS3Client(cfg, os.Getenv)
	e := &jobs.Exporter{Store: st, S3: s3c, Presign: jobs.NewPresigner(s3c), Bucket: env["EXPORT_BUCKET"],
		KMSKeyID: os.Getenv("EXPORT_KMS_KEY_ID"), LinkTTL: ttl, Log: logging.FromEnv("privacy-export")}
	lambda.Start(e.Handle)
}
