package stack

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/cfntemplate"
	"github.com/livesupportbot/backend/local/moto"
	"github.com/livesupportbot/backend/local/testaws"
)

const visitorKeyARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:VisitorTokenKeySecret-local-AbCdEf"

func TestResolver_GivesFunctionsTheTemplatesEnvironmentPointedAtLocalServices(t *testing.T) {
	root := testaws.RepoRoot(t)
	tpl, err := cfntemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fns, err := cfntemplate.LoadFunctions(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := &resolver{
		params: parameters(tpl, nil, map[string]string{"PublicApiUrl": "http://127.0.0.1:8080/dev"}, slog.New(slog.DiscardHandler)),
		res: &moto.Resources{Tables: map[string]moto.Table{
			"DataTable": {Name: "DataTable", Arn: "arn:aws:dynamodb:us-east-1:123456789012:table/DataTable",
				StreamArn: "arn:aws:dynamodb:us-east-1:123456789012:table/DataTable/stream/x"},
			"ArchiveTable": {Name: "ArchiveTable"}}},
		secrets: map[string]string{"VisitorTokenKeySecret": visitorKeyARN, "SubjectHashKeySecret": "arn:s", "PlatformTokenSecret": "arn:p", "SlackAppSecret": "arn:sl", "MetaAppSecretSecret": "arn:meta", "GoogleAppSecret": "arn:google"},
		tpl:     tpl, httpBase: "http://127.0.0.1:8080", wsHost: "127.0.0.1:8081",
		apis: map[string]string{"HttpApi": "http", "WebSocketApi": "ws"},
	}
	env := map[string]map[string]string{}
	for _, f := range fns {
		vars, err := r.env(f)
		if err != nil {
			t.Fatalf("%s: %v", f.ID, err)
		}
		env[f.ID] = map[string]string{}
		for _, kv := range vars {
			k, v, _ := strings.Cut(kv, "=")
			env[f.ID][k] = v
		}
	}
	tests := []struct{ fn, name, want string }{
		{"WidgetSessionFunction", "DATA_TABLE", "DataTable"},
		{"WidgetSessionFunction", "ARCHIVE_TABLE", "ArchiveTable"},
		{"WidgetSessionFunction", "VISITOR_TOKEN_SECRET_ARN", visitorKeyARN},
		{"AdminApiFunction", "PUBLIC_API_URL", "http://127.0.0.1:8080/dev"},
		{"WidgetSessionFunction", "WEBSOCKET_URL", "ws://127.0.0.1:8081/dev"},
		{"DispatchFunction", "WS_MANAGEMENT_ENDPOINT", "http://127.0.0.1:8081/dev"},
		{"WsMessageFunction", "MAX_MESSAGE_CHARS", "4000"},
		{"WebhookMetaFunction", "META_APP_SECRETS_ARN", "arn:meta"},
		{"WebhookChannelsFunction", "TELEGRAM_API_URL", "https://api.telegram.org"},
		{"DispatchFunction", "GOOGLE_APP_SECRETS_ARN", "arn:google"},
	}
	for _, tt := range tests {
		if got := env[tt.fn][tt.name]; got != tt.want {
			t.Errorf("%s %s = %q, want %q", tt.fn, tt.name, got, tt.want)
		}
	}
	if got, ok := r.ref("DataTable.StreamArn"); !ok || !strings.HasSuffix(got, "/stream/x") {
		t.Errorf("stream arn = %q", got)
	}
	if _, ok := r.ref("NoSuchThing.Arn"); ok {
		t.Error("an unknown resource resolved")
	}
}

func TestParameters_FixedThenEnvThenDefaultThenRandom(t *testing.T) {
	tpl := &cfntemplate.Template{}
	tpl.Parameters = map[string]struct {
		Default any `yaml:"Default"`
	}{"Stage": {Default: "dev"}, "MaxMessageChars": {Default: 4000}, "SubjectHashSecret": {}, "SlackClientId": {}}
	env := func(k string) string {
		return map[string]string{"PARAM_SlackClientId": "123.456", "PARAM_Stage": "qa"}[k]
	}
	p := parameters(tpl, env, map[string]string{"MaxMessageChars": "99"}, slog.New(slog.DiscardHandler))
	q := parameters(tpl, env, nil, slog.New(slog.DiscardHandler))
	if p["Stage"] != "qa" || p["MaxMessageChars"] != "99" || q["MaxMessageChars"] != "4000" || p["SlackClientId"] != "123.456" {
		t.Errorf("parameters = %v", p)
	}
	if len(p["SubjectHashSecret"]) < 32 || p["SubjectHashSecret"] == q["SubjectHashSecret"] {
		t.Errorf("a parameter without default got %q, then %q: want a fresh random value of 32+ characters", p["SubjectHashSecret"], q["SubjectHashSecret"])
	}
}
