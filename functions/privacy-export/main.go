// Command privacy-export is invoked asynchronously when an export request is
// created: it gathers every item about the subject from the Data and Archive
// tables, writes one JSON document to the export bucket (server-side encrypted)
// and records a presigned download link that expires.
package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/livesupportbot/backend/shared/awsclients"
	"github.com/livesupportbot/backend/shared/logging"
	"github.com/livesupportbot/backend/shared/privacy/jobs"
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
	ttl, err := linkTTL(getenv("EXPORT_LINK_TTL_HOURS"))
	if err != nil {
		return err
	}
	rt, err := awsclients.Start(ctx, getenv)
	if err != nil {
		return err
	}
	s3c := jobs.NewS3Client(rt.Config, getenv)
	e := &jobs.Exporter{Store: rt.Store, S3: s3c, Presign: jobs.NewPresigner(s3c), Bucket: env["EXPORT_BUCKET"],
		KMSKeyID: getenv("EXPORT_KMS_KEY_ID"), LinkTTL: ttl, Log: logging.FromEnv("privacy-export")}
	return serve(e.Handle)
}

// linkTTL reads EXPORT_LINK_TTL_HOURS: unset is jobs.DefaultLinkTTL (7 days, the
// most SigV4 allows); anything but 1 to 168 hours is an error.
func linkTTL(v string) (time.Duration, error) {
	if v == "" {
		return jobs.DefaultLinkTTL, nil
	}
	h, err := strconv.Atoi(v)
	if err != nil || h <= 0 || h > 168 {
		return 0, fmt.Errorf("EXPORT_LINK_TTL_HOURS must be a number of hours from 1 to 168, not %q", v)
	}
	return time.Duration(h) * time.Hour, nil
}
