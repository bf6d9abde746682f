package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/livesupportbot/backend/local/lambdarunner"
	"github.com/livesupportbot/backend/local/moto"
	"github.com/livesupportbot/backend/local/schedules"
	"github.com/livesupportbot/backend/local/streams"
	"github.com/livesupportbot/backend/local/ttl"
	"github.com/livesupportbot/backend/shared/cfntemplate"
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

func mapping(fnID string, ev cfntemplate.Event, fn *lambdarunner.Pool, r *resolver, ledger *ttl.Ledger, log *slog.Logger) (*streams.Mapping, error) {
	var p struct {
		Stream                     string
		StartingPosition           string
		BatchSize                  int
		BisectBatchOnFunctionError bool
		MaximumRetryAttempts       *int
		FunctionResponseTypes      []string
		Enabled                    *bool
		FilterCriteria             struct{ Filters []struct{ Pattern string } }
	}
	if err := cfntemplate.Decode(ev.Properties, &p); err != nil {
		return nil, fmt.Errorf("function %s event %s: %w", fnID, ev.Name, err)
	}
	if p.Enabled != nil && !*p.Enabled {
		return nil, nil
	}
	// Stream decodes as the plain argument of !GetAtt: "DataTable.StreamArn".
	arn, ok := r.ref(p.Stream)
	if !ok || arn == "" {
		return nil, fmt.Errorf("function %s event %s: stream %q is no table stream of the template", fnID, ev.Name, p.Stream)
	}
	name := fnID + "/" + ev.Name
	m := &streams.Mapping{Name: name, StreamArn: arn, Function: fn, BatchSize: p.BatchSize,
		StartingPosition: p.StartingPosition, BisectBatchOnFunctionError: p.BisectBatchOnFunctionError,
		MaximumRetryAttempts: -1, Removals: ledger, Log: log.With("mapping", name)}
	if p.MaximumRetryAttempts != nil {
		m.MaximumRetryAttempts = *p.MaximumRetryAttempts
	}
	for _, t := range p.FunctionResponseTypes {
		if t == "ReportBatchItemFailures" {
			m.ReportBatchItemFailures = true
		}
	}
	for _, f := range p.FilterCriteria.Filters {
		flt, err := streams.ParseFilter(f.Pattern)
		if err != nil {
			return nil, fmt.Errorf("function %s event %s: %w", fnID, ev.Name, err)
		}
		m.Filters = append(m.Filters, flt)
	}
	m.OnFailure = func(recs []map[string]any, reason string) {
		// The on-failure destination: what Lambda would send there, logged.
		ids := make([]string, 0, len(recs))
		for _, rec := range recs {
			ids = append(ids, fmt.Sprint(rec["eventID"]))
		}
		log.Error("records sent to the on-failure destination", "mapping", name, "eventIds", ids, "reason", reason)
	}
	return m, nil
}

func schedule(fnID string, ev cfntemplate.Event, fn *lambdarunner.Pool, log *slog.Logger) (*schedules.Schedule, error) {
	var p struct {
		Schedule                   string
		ScheduleExpression         string
		ScheduleExpressionTimezone string
		Input                      string
		Enabled                    *bool
		State                      string
	}
	if err := cfntemplate.Decode(ev.Properties, &p); err != nil {
		return nil, fmt.Errorf("function %s event %s: %w", fnID, ev.Name, err)
	}
	if (p.Enabled != nil && !*p.Enabled) || strings.EqualFold(p.State, "DISABLED") {
		return nil, nil
	}
	expr := p.Schedule
	if ev.Type == "ScheduleV2" {
		expr = p.ScheduleExpression
	}
	loc := time.UTC
	if p.ScheduleExpressionTimezone != "" {
		var err error
		if loc, err = time.LoadLocation(p.ScheduleExpressionTimezone); err != nil {
			return nil, fmt.Errorf("function %s event %s: %w", fnID, ev.Name, err)
		}
	}
	e, err := schedules.Parse(expr, loc)
	if err != nil {
		return nil, fmt.Errorf("function %s event %s: %w", fnID, ev.Name, err)
	}
	return &schedules.Schedule{Name: fnID + "/" + ev.Name, Expr: e, Input: p.Input, Function: fn, Log: log}, nil
}

// lambdaAPI is the Lambda Invoke API for the functions' own SDK calls
// (AWS_ENDPOINT_URL_LAMBDA): RequestResponse and Event invocations.
type lambdaAPI struct{ s *Stack }

func (a lambdaAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if i := strings.LastIndex(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	}
	name, _, _ = strings.Cut(name, ":")
	p, ok := a.s.Functions[name]
	if !ok {
		w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"Type":"User","message":"Function not found: %s"}`, name)
		return
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	if r.Header.Get("X-Amz-Invocation-Type") == "Event" {
		go func() {
			if _, err := p.Invoke(context.Background(), payload); err != nil {
				a.s.log.Error("async invocation failed", "function", name, "error", err)
			}
		}()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	out, err := p.Invoke(r.Context(), payload)
	var fe *lambdarunner.FunctionError
	switch {
	case errors.As(err, &fe):
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		b, _ := json.Marshal(fe)
		w.Write(b)
	case err != nil:
		w.Header().Set("X-Amzn-ErrorType", "ServiceException")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"message":"invoke failed"}`)
	default:
		w.Write(out)
	}
}
