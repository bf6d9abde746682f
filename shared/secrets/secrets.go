// Package secrets reads a function's secrets from AWS Secrets Manager once per
// instance, in one BatchGetSecretValue call that Fetch starts in the background
// at cold start, so the call overlaps the runtime's start instead of adding to
// it; the first Get waits for it. The function's configuration
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
	"sync"

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

// Pending is the secrets of one function instance, fetched in the background.
type Pending struct {
	load func() (map[string]string, error)
	done chan struct{}

	mu   sync.Mutex
	vals map[string]string
	err  error
}

// Fetch starts loading the secrets of names (as Load) in the background and
// returns at once. With no names there is nothing to fetch and Get finds nothing.
func Fetch(ctx context.Context, c Client, getenv func(string) string, names ...string) *Pending {
	p := &Pending{load: func() (map[string]string, error) { return Load(ctx, c, getenv, names...) }, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		vals, err := p.load()
		p.mu.Lock()
		p.vals, p.err = vals, err
		p.mu.Unlock()
	}()
	return p
}

// Get returns the secret of name, waiting for the background fetch the first
// time. A failed fetch (Secrets Manager unreachable at cold start) is tried
// again by the next Get rather than failing the instance for ever. An error
// names the secret, never a value.
func (p *Pending) Get(name string) (string, error) {
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		p.vals, p.err = p.load()
		if p.err != nil {
			return "", p.err
		}
	}
	v, ok := p.vals[name]
	if !ok {
		return "", fmt.Errorf("secret %s: not among the function's secrets", name)
	}
	return v, nil
}
