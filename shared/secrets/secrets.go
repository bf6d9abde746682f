// Package secrets reads a function's secrets from AWS Secrets Manager once, at
// cold start, in one BatchGetSecretValue call. The function's configuration
// holds only the secrets' ARNs (variable <NAME>_ARN); the values live for the
// life of the instance in memory and never in the environment, so anyone who can
// read the function's configuration sees no secret.
package secrets

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Client is the one Secrets Manager call the package makes.
type Client interface {
	BatchGetSecretValue(ctx context.Context, in *secretsmanager.BatchGetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error)
}

// MaxBatch is the most secrets one BatchGetSecretValue call takes by id.
const MaxBatch = 20

// Load reads the secrets of names. For each name N the ARN comes from the
// variable N_ARN. The value of N is the secret's string, except that a secret
// whose string is a JSON object of strings gives each member as a value under
// its own name (one secret can carry a provider's several secrets). Every
// secret is fetched in one call; an error names the secrets, never a value.
func Load(ctx context.Context, c Client, getenv func(string) string, names ...string) (map[string]string, error) {
	out := map[string]string{}
	if len(names) == 0 {
		return out, nil
	}
	if len(names) > MaxBatch {
		return nil, fmt.Errorf("load secrets: %d names, at most %d", len(names), MaxBatch)
	}
	byARN := map[string]string{}
	var arns, missing []string
	for _, n := range names {
		arn := getenv(n + "_ARN")
		if arn == "" {
			missing = append(missing, n+"_ARN")
			continue
		}
		if _, dup := byARN[arn]; !dup {
			arns = append(arns, arn)
		}
		byARN[arn] = n
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("load secrets: missing environment: %v", missing)
	}
	in := &secretsmanager.BatchGetSecretValueInput{SecretIdList: arns}
	for {
		res, err := c.BatchGetSecretValue(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("load secrets %v: %w", names, err)
		}
		if len(res.Errors) > 0 {
			var why []string
			for _, e := range res.Errors {
				why = append(why, fmt.Sprintf("%s: %s", byARN[aws.ToString(e.SecretId)], aws.ToString(e.ErrorCode)))
			}
			return nil, fmt.Errorf("load secrets: %s", strings.Join(why, "; "))
		}
		for _, v := range res.SecretValues {
			name, ok := nameOf(byARN, aws.ToString(v.ARN), aws.ToString(v.Name))
			if !ok {
				continue
			}
			s := aws.ToString(v.SecretString)
			if members, ok := object(s); ok {
				for k, mv := range members {
					out[k] = mv
				}
			}
			out[name] = s
		}
		if aws.ToString(res.NextToken) == "" {
			break
		}
		in.NextToken = res.NextToken
	}
	var absent []string
	for _, n := range names {
		if _, ok := out[n]; !ok {
			absent = append(absent, n)
		}
	}
	if len(absent) > 0 {
		sort.Strings(absent)
		return nil, fmt.Errorf("load secrets: not returned: %v", absent)
	}
	return out, nil
}

// nameOf finds the variable a returned secret belongs to: the configuration
// names secrets by ARN (a CloudFormation Ref of a secret is its ARN), or by
// name.
func nameOf(byARN map[string]string, arn, name string) (string, bool) {
	if n, ok := byARN[arn]; ok {
		return n, true
	}
	n, ok := byARN[name]
	return n, ok
}

// object decodes s as a JSON object of strings.
func object(s string) (map[string]string, bool) {
	if !strings.HasPrefix(strings.TrimSpace(s), "{") {
		return nil, false
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, false
	}
	return m, true
}

// Getenv returns a getenv that answers the loaded secrets first, then fallback.
func Getenv(vals map[string]string, fallback func(string) string) func(string) string {
	return func(name string) string {
		if v, ok := vals[name]; ok {
			return v
		}
		return fallback(name)
	}
}
