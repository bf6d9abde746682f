package moto

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/livesupportbot/backend/local/cfntemplate"
)

// Table is a table created from the template.
type Table struct {
	Name      string
	Arn       string
	StreamArn string // "" without a stream
	// StreamViewType is what the stream's records carry ("" without a stream).
	StreamViewType string
	// TTLAttribute is the table's Time to Live attribute ("" when off).
	TTLAttribute string
	// KeyNames are the primary key's attribute names (hash, then range).
	KeyNames []string
}

// CreateTables creates the template's tables ids (every table when none is
// given), each named name(id), with the template's keys, indexes, projections,
// stream and TTL, and returns them by logical id.
func CreateTables(ctx context.Context, db *dynamodb.Client, tpl *cfntemplate.Template, name func(id string) string, ids ...string) (map[string]Table, error) {
	if len(ids) == 0 {
		ids = tpl.OfType("AWS::DynamoDB::Table")
	}
	out := make(map[string]Table, len(ids))
	for _, id := range ids {
		in, err := tpl.TableInput(id, name(id))
		if err != nil {
			return nil, err
		}
		d, err := tpl.CreateTable(ctx, db, id, name(id))
		if err != nil {
			return nil, err
		}
		t := Table{Name: name(id), Arn: aws.ToString(d.TableArn), StreamArn: aws.ToString(d.LatestStreamArn), TTLAttribute: tpl.TTLAttribute(id)}
		if d.StreamSpecification != nil {
			t.StreamViewType = string(d.StreamSpecification.StreamViewType)
		}
		for _, k := range in.KeySchema {
			t.KeyNames = append(t.KeyNames, aws.ToString(k.AttributeName))
		}
		out[id] = t
	}
	return out, nil
}

// Resources are what CreateResources made, by logical id.
type Resources struct {
	Tables  map[string]Table
	Buckets map[string]string // id -> bucket name
	Keys    map[string]Key
}

// Key is a KMS key.
type Key struct{ ID, Arn string }

// CreateResources creates every table, bucket and key of the template in the
// moto behind cfg, under its local name: the template's TableName or
// BucketName when it is a plain string, else the table's logical id and
// "<id lowercased>-local" for a bucket.
func CreateResources(ctx context.Context, cfg aws.Config, tpl *cfntemplate.Template) (*Resources, error) {
	tables, err := CreateTables(ctx, dynamodb.NewFromConfig(cfg), tpl, func(id string) string {
		return plainName(tpl, id, "TableName", id)
	})
	if err != nil {
		return nil, err
	}
	r := &Resources{Tables: tables, Buckets: map[string]string{}, Keys: map[string]Key{}}
	if ids := tpl.OfType("AWS::S3::Bucket"); len(ids) > 0 {
		c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
		for _, id := range ids {
			name := plainName(tpl, id, "BucketName", strings.ToLower(id)+"-local")
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
				return nil, fmt.Errorf("create bucket %s: %w", name, err)
			}
			r.Buckets[id] = name
		}
	}
	if ids := tpl.OfType("AWS::KMS::Key"); len(ids) > 0 {
		c := kms.NewFromConfig(cfg)
		for _, id := range ids {
			out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(id + " (local)")})
			if err != nil {
				return nil, fmt.Errorf("create key %s: %w", id, err)
			}
			r.Keys[id] = Key{ID: aws.ToString(out.KeyMetadata.KeyId), Arn: aws.ToString(out.KeyMetadata.Arn)}
		}
	}
	return r, nil
}

// plainName is the resource's name property when it is a plain string (no
// ${} substitution), else def.
func plainName(tpl *cfntemplate.Template, id, prop, def string) string {
	if n, ok := tpl.Resources[id].Properties[prop].(string); ok && n != "" && !strings.Contains(n, "$") {
		return n
	}
	return def
}
