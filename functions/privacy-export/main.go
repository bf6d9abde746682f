// Command privacy-export is invoked asynchronously when an export request is
// created: it gathers every item about the subject from the Data and Archive
// tables, writes one JSON document to the export bucket (server-side encrypted)
// and records a presigned download link that expires.
package main

import (
	"context"
	"time"

	"github.com/livesupportbot/backend/shared/attachment"
	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/privacy/jobs"
	"github.com/livesupportbot/backend/shared/s3link"
)

func main() { awsclients.Main(run) }

// serve hands the handler to the Lambda runtime (a test takes it instead).
var serve = awsclients.Serve

// run builds the handler at cold start and serves it.
func run(ctx context.Context, getenv func(string) string) error {
	env, err := awsclients.Env(getenv, "EXPORT_BUCKET")
	if err != nil {
		return err
	}
	// EXPORT_LINK_TTL_HOURS: unset is jobs.DefaultLinkTTL (7 days, the most SigV4 allows).
	hours, err := awsclients.Int(getenv, "EXPORT_LINK_TTL_HOURS", int(jobs.DefaultLinkTTL/time.Hour), 1, 168)
	if err != nil {
		return err
	}
	rt, err := awsclients.Start(ctx, getenv)
	if err != nil {
		return err
	}
	s3c := jobs.NewS3Client(rt.Config, getenv)
	e := &jobs.Exporter{Store: rt.Store, S3: s3c, Presign: jobs.NewPresigner(s3c), Bucket: env["EXPORT_BUCKET"],
		KMSKeyID: getenv("EXPORT_KMS_KEY_ID"), LinkTTL: time.Duration(hours) * time.Hour, Log: logging.FromEnv(getenv, "privacy-export")}
	if bucket := getenv("ATTACHMENT_BUCKET"); bucket != "" {
		e.Files = &attachment.Store{Objects: s3link.New(rt.Config, getenv), Bucket: bucket}
	}
	return serve(e.Handle)
}
