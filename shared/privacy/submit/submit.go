// Package submit wires the privacy service of the admin API to AWS: each new
// request starts its processing function through the Lambda API (InvocationType
// Event, one signed call of lambdainvoke), and finished exports get freshly
// signed S3 download links. It links neither the processors nor anything the
// admin API does not use (no Lambda or S3 SDK client).
package submit

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/livesupportbot/backend/shared/lambdainvoke"
	"github.com/livesupportbot/backend/shared/privacy"
	"github.com/livesupportbot/backend/shared/s3link"
)

// NewService builds the service of the admin function from the environment:
// PRIVACY_EXPORT_FUNCTION and PRIVACY_ERASE_FUNCTION name the functions it
// invokes (InvocationType Event, through AWS_ENDPOINT_URL_LAMBDA when set);
// EXPORT_BUCKET, when set, enables fresh links.
func NewService(cfg aws.Config, st privacy.ServiceStore, getenv func(string) string) (*privacy.Service, error) {
	exp, era := getenv("PRIVACY_EXPORT_FUNCTION"), getenv("PRIVACY_ERASE_FUNCTION")
	if exp == "" || era == "" {
		return nil, fmt.Errorf("missing environment: PRIVACY_EXPORT_FUNCTION and PRIVACY_ERASE_FUNCTION")
	}
	s := &privacy.Service{Store: st, Invoker: lambdainvoke.New(cfg, getenv), ExportFunction: exp, EraseFunction: era}
	if b := getenv("EXPORT_BUCKET"); b != "" {
		s.Presign, s.Bucket = s3link.New(cfg, getenv), b
	}
	return s, nil
}
