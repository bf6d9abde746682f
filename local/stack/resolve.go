package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/livesupportbot/backend/local/cfntemplate"
	"github.com/livesupportbot/backend/local/moto"
)

const account = "123456789012"

// createSecrets creates the template's Secrets Manager secrets in moto: the
// value given for the logical id in values, else the template's SecretString,
// else (GenerateSecretString) a random one.
func createSecrets(ctx context.Context, cfg aws.Config, r *resolver, values map[string]string) error {
	ids := r.tpl.OfType("AWS::SecretsManager::Secret")
	if len(ids) == 0 {
		return nil
	}
	r.secrets = map[string]string{}
	c := secretsmanager.NewFromConfig(cfg)
	for _, id := range ids {
		v := values[id]
		// A plain or !Sub string (the YAML decoder drops the tag; a Sub of a
		// string without ${} is that string).
		if raw, ok := r.tpl.Resources[id].Properties["SecretString"].(string); ok && v == "" {
			var err error
			if v, err = r.value(cfntemplate.Value{Fn: "Sub", Arg: raw}); err != nil {
				return fmt.Errorf("secret %s: %w", id, err)
			}
		}
		if v == "" {
			b := make([]byte, 32)
			rand.Read(b)
			v = hex.EncodeToString(b)
		}
		out, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id + "-local"), SecretString: aws.String(v)})
		if err != nil {
			return fmt.Errorf("create secret %s: %w", id, err)
		}
		r.secrets[id] = aws.ToString(out.ARN)
	}
	return nil
}

// resolver evaluates the template's intrinsics to local values.
type resolver struct {
	params   map[string]string
	res      *moto.Resources
	secrets  map[string]string // id -> ARN
	tpl      *cfntemplate.Template
	httpBase string            // http://127.0.0.1:8080
	wsHost   string            // 127.0.0.1:8081
	apis     map[string]string // API id -> "http" | "ws"
}

func (r *resolver) ref(name string) (string, bool) {
	switch name {
	case "AWS::Region":
		return moto.Region, true
	case "AWS::AccountId":
		return account, true
	case "AWS::URLSuffix":
		return "amazonaws.com", true
	case "AWS::Partition":
		return "aws", true
	case "AWS::StackName":
		return "livesupportbot-local", true
	}
	if v, ok := r.params[name]; ok {
		return v, true
	}
	id, attr, _ := strings.Cut(name, ".")
	res, ok := r.tpl.Resources[id]
	if !ok {
		return "", false
	}
	switch res.Type {
	case "AWS::DynamoDB::Table":
		switch attr {
		case "":
			return r.res.Tables[id].Name, true
		case "Arn":
			return r.res.Tables[id].Arn, true
		case "StreamArn":
			return r.res.Tables[id].StreamArn, true
		}
	case "AWS::S3::Bucket":
		switch attr {
		case "":
			return r.res.Buckets[id], true
		case "Arn":
			return "arn:aws:s3:::" + r.res.Buckets[id], true
		}
	case "AWS::KMS::Key":
		switch attr {
		case "", "KeyId":
			return r.res.Keys[id].ID, true
		case "Arn":
			return r.res.Keys[id].Arn, true
		}
	case "AWS::SecretsManager::Secret":
		if attr == "" || attr == "Id" {
			v, ok := r.secrets[id]
			return v, ok
		}
	case "AWS::Serverless::Function":
		switch attr {
		case "":
			return id, true
		case "Arn":
			return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", moto.Region, account, id), true
		}
	}
	if attr == "" {
		return id, true
	}
	if attr == "Arn" {
		return fmt.Sprintf("arn:aws:local:%s:%s:%s", moto.Region, account, id), true
	}
	return "", false
}

// apiURL matches the public URL of an API in a !Sub, so it can point at the
// local gateway: https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}.
var apiURL = regexp.MustCompile(`(https|wss)://\$\{([A-Za-z0-9]+)\}\.execute-api\.\$\{AWS::Region\}\.\$\{AWS::URLSuffix\}`)

func (r *resolver) value(v cfntemplate.Value) (string, error) {
	if v.Fn == "Sub" {
		v.Arg = apiURL.ReplaceAllStringFunc(v.Arg, func(m string) string {
			sm := apiURL.FindStringSubmatch(m)
			switch r.apis[sm[2]] {
			case "http":
				return r.httpBase
			case "ws":
				if sm[1] == "wss" {
					return "ws://" + r.wsHost
				}
				return "http://" + r.wsHost
			}
			return m
		})
	}
	return v.Resolve(r.ref)
}

func (r *resolver) env(f cfntemplate.Function) ([]string, error) {
	var out []string
	for k, v := range f.Env {
		s, err := r.value(v)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", k, err)
		}
		out = append(out, k+"="+s)
	}
	return out, nil
}

// parameters gives each template parameter its local value: the stack's own
// (fixed), else PARAM_<Name> from env, else its default, else (a deployment
// secret or setting) a random value.
func parameters(tpl *cfntemplate.Template, env func(string) string, fixed map[string]string, log *slog.Logger) map[string]string {
	params := map[string]string{}
	for name, p := range tpl.Parameters {
		v := fixed[name]
		if v == "" && env != nil {
			v = env("PARAM_" + name)
		}
		switch {
		case v != "":
			params[name] = v
		case p.Default != nil:
			params[name] = fmt.Sprint(p.Default)
		default:
			b := make([]byte, 24)
			rand.Read(b)
			params[name] = hex.EncodeToString(b)
			log.Info("parameter has no default: using a random local value", "parameter", name, "override", "PARAM_"+name)
		}
	}
	return params
}
