// Package cfntemplate reads template.yaml, the one definition of the stack, for
// the tools that build a local copy of it: the test helpers and the local stack
// create DynamoDB tables from the template's own definitions, never a second copy.
package cfntemplate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"gopkg.in/yaml.v3"
)

// Template is the part of a SAM template the local tools read. Intrinsic
// functions (!Ref, !Sub, !GetAtt) decode as their plain argument.
type Template struct {
	Parameters map[string]struct {
		Default any `yaml:"Default"`
	} `yaml:"Parameters"`
	Globals struct {
		Function map[string]any `yaml:"Function"`
	} `yaml:"Globals"`
	Resources map[string]Resource `yaml:"Resources"`
}

// Resource is one resource: its type and raw properties.
type Resource struct {
	Type       string         `yaml:"Type"`
	Properties map[string]any `yaml:"Properties"`
	Metadata   map[string]any `yaml:"Metadata"`
}

// Load reads a template file.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	var t Template
	if err := yaml.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", path, err)
	}
	return &t, nil
}

// Find walks up from dir to the folder that holds template.yaml and returns its path.
func Find(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "template.yaml")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no template.yaml above %s", dir)
		}
	}
}

// OfType returns the logical ids of resources of a type, sorted.
func (t *Template) OfType(typ string) []string {
	var out []string
	for id, r := range t.Resources {
		if r.Type == typ {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// TableInput returns the CreateTable input of the AWS::DynamoDB::Table resource
// id, named name.
func (t *Template) TableInput(id, name string) (*dynamodb.CreateTableInput, error) {
	r, ok := t.Resources[id]
	if !ok || r.Type != "AWS::DynamoDB::Table" {
		return nil, fmt.Errorf("no table %s in template", id)
	}
	// The template's property names are the API's, so a YAML round trip into the
	// SDK's shape reads them with no second copy of the schema.
	var p struct {
		AttributeDefinitions   []struct{ AttributeName, AttributeType string }
		KeySchema              []struct{ AttributeName, KeyType string }
		TableClass             string
		StreamSpecification    *struct{ StreamViewType string }
		GlobalSecondaryIndexes []struct {
			IndexName  string
			KeySchema  []struct{ AttributeName, KeyType string }
			Projection struct {
				ProjectionType   string
				NonKeyAttributes []string
			}
		}
	}
	if err := remarshal(r.Properties, &p); err != nil {
		return nil, fmt.Errorf("table %s: %w", id, err)
	}
	in := &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest}
	for _, a := range p.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName), AttributeType: types.ScalarAttributeType(a.AttributeType)})
	}
	keys := func(ks []struct{ AttributeName, KeyType string }) []types.KeySchemaElement {
		var out []types.KeySchemaElement
		for _, k := range ks {
			out = append(out, types.KeySchemaElement{AttributeName: aws.String(k.AttributeName), KeyType: types.KeyType(k.KeyType)})
		}
		return out
	}
	in.KeySchema = keys(p.KeySchema)
	for _, g := range p.GlobalSecondaryIndexes {
		proj := &types.Projection{ProjectionType: types.ProjectionType(g.Projection.ProjectionType)}
		if len(g.Projection.NonKeyAttributes) > 0 {
			proj.NonKeyAttributes = g.Projection.NonKeyAttributes
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(g.IndexName), KeySchema: keys(g.KeySchema), Projection: proj})
	}
	if p.TableClass != "" {
		in.TableClass = types.TableClass(p.TableClass)
	}
	if p.StreamSpecification != nil {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true),
			StreamViewType: types.StreamViewType(p.StreamSpecification.StreamViewType)}
	}
	return in, nil
}

// TTLAttribute returns the TTL attribute of a table resource, or "".
func (t *Template) TTLAttribute(id string) string {
	var p struct {
		TimeToLiveSpecification struct {
			AttributeName string
			Enabled       bool
		}
	}
	if remarshal(t.Resources[id].Properties, &p) != nil || !p.TimeToLiveSpecification.Enabled {
		return ""
	}
	return p.TimeToLiveSpecification.AttributeName
}

// CreateTable creates the table resource id as name, with its TTL setting, and
// waits until it is active.
func (t *Template) CreateTable(ctx context.Context, db *dynamodb.Client, id, name string) (*types.TableDescription, error) {
	in, err := t.TableInput(id, name)
	if err != nil {
		return nil, err
	}
	var desc *types.TableDescription
	out, err := db.CreateTable(ctx, in)
	var inUse *types.ResourceInUseException
	switch {
	case errors.As(err, &inUse):
		// An SDK retry of a create that did succeed: the table is ours.
		d, derr := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if derr != nil {
			return nil, fmt.Errorf("create table %s: %w", name, err)
		}
		desc = d.Table
	case err != nil:
		return nil, fmt.Errorf("create table %s: %w", name, err)
	default:
		desc = out.TableDescription
	}
	if attr := t.TTLAttribute(id); attr != "" {
		if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(name),
			TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(attr), Enabled: aws.Bool(true)}}); err != nil {
			return nil, fmt.Errorf("ttl of %s: %w", name, err)
		}
	}
	return desc, nil
}

// remarshal decodes raw properties into out through JSON, whose field matching
// ignores case, so the structs above need no tags.
func remarshal(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
