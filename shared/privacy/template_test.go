package privacy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/testaws"
)

// TestTemplate_ExportBucketAndFunctions checks the deployed shape the privacy
// code relies on: an export bucket that is encrypted, never public, TLS only and
// expires its files; both functions retried asynchronously with an on-failure
// destination; the erase function allowed to delete, the export function not.
func TestTemplate_ExportBucketAndFunctions(t *testing.T) {
	tpl := testaws.Template(t)
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	bucket := tpl.Resources["ExportBucket"]
	if bucket.Type != "AWS::S3::Bucket" {
		t.Fatalf("ExportBucket is %q", bucket.Type)
	}
	pab, _ := bucket.Properties["PublicAccessBlockConfiguration"].(map[string]any)
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if pab[k] != true {
			t.Errorf("public access block %s = %v", k, pab[k])
		}
	}
	if enc := js(bucket.Properties["BucketEncryption"]); !strings.Contains(enc, "SSEAlgorithm") {
		t.Errorf("bucket encryption %s", enc)
	}
	if lc := js(bucket.Properties["LifecycleConfiguration"]); !strings.Contains(lc, `"ExpirationInDays":7`) || !strings.Contains(lc, `"Prefix":"exports/"`) {
		t.Errorf("lifecycle %s", lc)
	}
	if _, versioned := bucket.Properties["VersioningConfiguration"]; versioned {
		t.Error("a versioned bucket would keep erased export files as old versions")
	}
	if pol := js(tpl.Resources["ExportBucketPolicy"].Properties); !strings.Contains(pol, `"aws:SecureTransport":"false"`) || !strings.Contains(pol, `"Effect":"Deny"`) {
		t.Errorf("bucket policy is not TLS-only: %s", pol)
	}
	for name, mustNot := range map[string]string{"PrivacyExportFunction": "DeleteItem", "PrivacyEraseFunction": "s3:PutObject"} {
		fn := tpl.Resources[name]
		if fn.Type != "AWS::Serverless::Function" || fn.Metadata["BuildMethod"] != "makefile" {
			t.Fatalf("%s: %q %v", name, fn.Type, fn.Metadata)
		}
		eic := js(fn.Properties["EventInvokeConfig"])
		if !strings.Contains(eic, `"MaximumRetryAttempts":2`) || !strings.Contains(eic, `"OnFailure"`) {
			t.Errorf("%s event invoke config %s", name, eic)
		}
		// BatchGetSecretValue has no resource-level permission (its Resource is
		// "*"); it reads only the secrets GetSecretValue allows by ARN.
		pol := strings.Replace(js(fn.Properties["Policies"]), `{"Action":["secretsmanager:BatchGetSecretValue"],"Effect":"Allow","Resource":"*"}`, "", 1)
		if strings.Contains(pol, mustNot) || strings.Contains(pol, `"*"`) {
			t.Errorf("%s policies allow %s or a wildcard: %s", name, mustNot, pol)
		}
	}
	admin := tpl.Resources["AdminApiFunction"]
	if pol := js(admin.Properties["Policies"]); !strings.Contains(pol, `"Action":["lambda:InvokeFunction"],"Effect":"Allow","Resource":["PrivacyExportFunction.Arn","PrivacyEraseFunction.Arn"]`) {
		t.Errorf("the admin function may not invoke the privacy functions: %s", pol)
	}
	if env := js(admin.Properties["Environment"]); !strings.Contains(env, `"PRIVACY_EXPORT_FUNCTION":"PrivacyExportFunction"`) || !strings.Contains(env, `"PRIVACY_ERASE_FUNCTION":"PrivacyEraseFunction"`) {
		t.Errorf("the admin function does not name the privacy functions: %s", env)
	}
}
