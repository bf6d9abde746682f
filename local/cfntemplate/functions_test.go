package cfntemplate

import (
	"fmt"
	"os"
	"testing"
)

func repoTemplate(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	p, err := Find(wd)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFunctions_MergesGlobalsAndKeepsIntrinsics(t *testing.T) {
	fns, err := LoadFunctions(repoTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Function{}
	for _, f := range fns {
		byID[f.ID] = f
	}
	d, ok := byID["DispatchFunction"]
	if !ok {
		t.Fatalf("no DispatchFunction in %v", fns)
	}
	if got := d.Env["DATA_TABLE"]; got != (Value{Fn: "Ref", Arg: "DataTable"}) {
		t.Errorf("DATA_TABLE = %+v, want the global !Ref DataTable", got)
	}
	if got := d.Env["WS_MANAGEMENT_ENDPOINT"]; got.Fn != "Sub" {
		t.Errorf("WS_MANAGEMENT_ENDPOINT = %+v, want a !Sub", got)
	}
	if d.Timeout != 30 {
		t.Errorf("timeout = %d, want the function's own 30", d.Timeout)
	}
	if d.Dir() != "functions/dispatch" {
		t.Errorf("dir = %q", d.Dir())
	}
	types := map[string]bool{}
	for _, ev := range d.Events {
		types[ev.Type] = true
	}
	if len(d.Events) != 2 || !types["DynamoDB"] || !types["Schedule"] { // the stream, and the retry run
		t.Errorf("events = %+v", d.Events)
	}
	if got := byID["WsConnectFunction"].Dir(); got != "functions/ws-connect" {
		t.Errorf("dir = %q", got)
	}
}

func TestValueResolve(t *testing.T) {
	ref := func(n string) (string, bool) {
		m := map[string]string{"Api": "abc", "AWS::Region": "us-east-1", "T.Arn": "arn:t"}
		v, ok := m[n]
		return v, ok
	}
	tests := []struct {
		name    string
		v       Value
		want    string
		wantErr bool
	}{
		{"literal", Value{Arg: "x"}, "x", false},
		{"ref", Value{Fn: "Ref", Arg: "Api"}, "abc", false},
		{"getatt", Value{Fn: "GetAtt", Arg: "T.Arn"}, "arn:t", false},
		{"sub", Value{Fn: "Sub", Arg: "wss://${Api}.x.${AWS::Region}/d"}, "wss://abc.x.us-east-1/d", false},
		{"unknown ref", Value{Fn: "Ref", Arg: "Nope"}, "", true},
		{"unknown sub", Value{Fn: "Sub", Arg: "${Nope}"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.v.Resolve(ref)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestWebSocketAPIs_RoutesAndAuthorizer(t *testing.T) {
	tpl, err := Load(repoTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	apis, err := tpl.WebSocketAPIs()
	if err != nil {
		t.Fatal(err)
	}
	if len(apis) != 1 {
		t.Fatalf("apis = %+v", apis)
	}
	a := apis[0]
	if a.RouteSelectionExpression != "$request.body.action" {
		t.Errorf("selection = %q", a.RouteSelectionExpression)
	}
	c := a.Routes["$connect"]
	if c.Function != "WsConnectFunction" || c.Authorizer != "WsConnectFunction" ||
		len(c.IdentitySource) != 1 || c.IdentitySource[0] != "route.request.querystring.token" {
		t.Errorf("$connect = %+v", c)
	}
	if a.Routes["$disconnect"].Authorizer != "" {
		t.Errorf("$disconnect has an authorizer")
	}
	if a.Routes["sendMessage"].Function != "WsMessageFunction" {
		t.Errorf("sendMessage = %+v", a.Routes["sendMessage"])
	}
	if st, ok := tpl.StageOf(a.ID); !ok || st != (Value{Fn: "Ref", Arg: "Stage"}) {
		t.Errorf("stage = %+v %v", st, ok)
	}
	h, err := tpl.HTTPAPIs()
	if err != nil || len(h) != 1 || h[0].Cors == nil || h[0].Cors.MaxAge != 600 || h[0].Stage.Arg != "Stage" {
		t.Errorf("http apis = %+v, %v", h, err)
	}
}

func TestAllowed_ActionsOfOneServiceOnOneResource(t *testing.T) {
	tpl, err := Load(repoTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(tpl.Allowed("WsConnectFunction", "DataTable.Arn", "dynamodb")); got != "[DeleteItem GetItem PutItem Query]" {
		t.Errorf("ws-connect on the Data table: %s", got)
	}
	if got := fmt.Sprint(tpl.Allowed("AdminApiFunction", "${DataTable.Arn}/index/GSI1", "dynamodb")); got != "[Query]" {
		t.Errorf("admin-api on GSI1: %s", got)
	}
	if got := tpl.Allowed("WsConnectFunction", "DataTable.Arn", "kms"); len(got) != 0 {
		t.Errorf("ws-connect kms actions on the Data table: %v", got)
	}
	if got := tpl.Allowed("NoSuchFunction", "DataTable.Arn", "dynamodb"); len(got) != 0 {
		t.Errorf("a missing function allows %v", got)
	}
}
