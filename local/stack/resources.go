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
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/livesupportbot/backend/local/lambdarunner"
	"github.com/livesupportbot/backend/local/schedules"
	"github.com/livesupportbot/backend/local/streams"
	"github.com/livesupportbot/backend/local/ttl"
	"github.com/livesupportbot/backend/shared/cfntemplate"
)

const (
	region  = "us-east-1"
	account = "123456789012"
)

// MotoBinary finds moto_server: on PATH (make puts its venv there), then in
// /opt/lsb-venv/bin.
func MotoBinary() (string, error) {
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p, nil
	}
	if p := "/opt/lsb-venv/bin/moto_server"; fileExists(p) {
		return p, nil
	}
	return "", errors.New("moto_server not found: run `make tools` (or pip install -r requirements-dev.txt)")
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func (s *Stack) startMoto(ctx context.Context, out io.Writer) error {
	bin, err := MotoBinary()
	if err != nil {
		return err
	}
	l, err := freePort()
	if err != nil {
		return err
	}
	motoURL := fmt.Sprintf("http://127.0.0.1:%d", l)
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(l))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start moto: %w", err)
	}
	s.moto = cmd
	s.log.Info("starting moto", "url", motoURL)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if res, err := http.Get(motoURL + "/moto-api/"); err == nil {
			res.Body.Close()
			s.MotoURL, s.stopProxy, s.stall, err = serialProxy(motoURL, func(op string, d time.Duration) {
				s.log.Warn("slow moto request", "op", op, "duration", d.Round(time.Millisecond))
			})
			return err
		}
	}
	return fmt.Errorf("moto did not start on %s", motoURL)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// resources are what the stack created in moto.
type resources struct {
	tables     map[string]string // id -> name
	tableArns  map[string]string
	streamArns map[string]string
	buckets    map[string]string
	keys       map[string]string // id -> key id
	keyArns    map[string]string
	secrets    map[string]string // id -> ARN
}

func createResources(ctx context.Context, cfg aws.Config, tpl *cfntemplate.Template) (*resources, error) {
	r := &resources{tables: map[string]string{}, tableArns: map[string]string{}, streamArns: map[string]string{},
		buckets: map[string]string{}, keys: map[string]string{}, keyArns: map[string]string{}}
	db := dynamodb.NewFromConfig(cfg)
	for _, id := range tpl.OfType("AWS::DynamoDB::Table") {
		name := id
		if n, ok := tpl.Resources[id].Properties["TableName"].(string); ok && n != "" && !strings.Contains(n, "$") {
			name = n
		}
		d, err := tpl.CreateTable(ctx, db, id, name)
		if err != nil {
			return nil, err
		}
		r.tables[id], r.tableArns[id], r.streamArns[id] = name, aws.ToString(d.TableArn), aws.ToString(d.LatestStreamArn)
	}
	if ids := tpl.OfType("AWS::S3::Bucket"); len(ids) > 0 {
		c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
		for _, id := range ids {
			name := strings.ToLower(id) + "-local"
			if n, ok := tpl.Resources[id].Properties["BucketName"].(string); ok && n != "" && !strings.Contains(n, "$") {
				name = n
			}
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
				return nil, fmt.Errorf("create bucket %s: %w", name, err)
			}
			r.buckets[id] = name
		}
	}
	if ids := tpl.OfType("AWS::KMS::Key"); len(ids) > 0 {
		c := kms.NewFromConfig(cfg)
		for _, id := range ids {
			out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(id + " (local)")})
			if err != nil {
				return nil, fmt.Errorf("create key %s: %w", id, err)
			}
			r.keys[id], r.keyArns[id] = aws.ToString(out.KeyMetadata.KeyId), aws.ToString(out.KeyMetadata.Arn)
		}
	}
	return r, nil
}

// createSecrets creates the template's Secrets Manager secrets in moto: the
// value given for the logical id in values, else the template's SecretString,
// else (GenerateSecretString) a random one.
func createSecrets(ctx context.Context, cfg aws.Config, r *resolver, values map[string]string) error {
	ids := r.tpl.OfType("AWS::SecretsManager::Secret")
	if len(ids) == 0 {
		return nil
	}
	r.res.secrets = map[string]string{}
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
		r.res.secrets[id] = aws.ToString(out.ARN)
	}
	return nil
}

// resolver evaluates the template's intrinsics to local values.
type resolver struct {
	params   map[string]string
	res      *resources
	tpl      *cfntemplate.Template
	httpBase string            // http://127.0.0.1:8080
	wsHost   string            // 127.0.0.1:8081
	apis     map[string]string // API id -> "http" | "ws"
}

func (r *resolver) ref(name string) (string, bool) {
	switch name {
	case "AWS::Region":
		return region, true
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
			return r.res.tables[id], true
		case "Arn":
			return r.res.tableArns[id], true
		case "StreamArn":
			return r.res.streamArns[id], true
		}
	case "AWS::S3::Bucket":
		switch attr {
		case "":
			return r.res.buckets[id], true
		case "Arn":
			return "arn:aws:s3:::" + r.res.buckets[id], true
		}
	case "AWS::KMS::Key":
		switch attr {
		case "", "KeyId":
			return r.res.keys[id], true
		case "Arn":
			return r.res.keyArns[id], true
		}
	case "AWS::SecretsManager::Secret":
		if attr == "" || attr == "Id" {
			v, ok := r.res.secrets[id]
			return v, ok
		}
	case "AWS::Serverless::Function":
		switch attr {
		case "":
			return id, true
		case "Arn":
			return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, account, id), true
		}
	}
	if attr == "" {
		return id, true
	}
	if attr == "Arn" {
		return fmt.Sprintf("arn:aws:local:%s:%s:%s", region, account, id), true
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
