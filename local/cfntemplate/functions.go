package cfntemplate

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Value is a template value that may be an intrinsic function: Fn is "" for a
// literal, or "Ref", "Sub" or "GetAtt", and Arg is the literal or the function's
// argument (for GetAtt "Resource.Attribute").
type Value struct {
	Fn  string
	Arg string
}

// Function is an AWS::Serverless::Function with its Globals applied.
type Function struct {
	ID string
	// Env is Globals.Function.Environment merged with the function's own
	// variables, intrinsics kept so a caller can resolve them its own way.
	Env        map[string]Value
	Timeout    int
	MemorySize int
	Events     []Event
}

// Event is one entry of a function's Events.
type Event struct {
	Name       string
	Type       string
	Properties map[string]any
}

// Dir returns the conventional source folder of a function, relative to the
// repository root: WsConnectFunction is built from functions/ws-connect.
func (f Function) Dir() string {
	name := strings.TrimSuffix(f.ID, "Function")
	var b strings.Builder
	for i, r := range name {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return "functions/" + b.String()
}

// LoadFunctions reads the template file's functions, sorted by id. It reads the
// file again as YAML nodes so intrinsic tags (!Ref, !Sub, !GetAtt) survive.
func LoadFunctions(path string) ([]Function, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", path, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("empty template %s", path)
	}
	doc := root.Content[0]
	globals := child(child(doc, "Globals"), "Function")
	globalEnv, err := envOf(globals)
	if err != nil {
		return nil, fmt.Errorf("globals: %w", err)
	}
	var out []Function
	res := child(doc, "Resources")
	if res == nil {
		return nil, nil
	}
	for i := 0; i+1 < len(res.Content); i += 2 {
		id, r := res.Content[i].Value, res.Content[i+1]
		if t := child(r, "Type"); t == nil || t.Value != "AWS::Serverless::Function" {
			continue
		}
		props := child(r, "Properties")
		f := Function{ID: id, Env: map[string]Value{}, Timeout: 3, MemorySize: 128}
		for k, v := range globalEnv {
			f.Env[k] = v
		}
		own, err := envOf(props)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", id, err)
		}
		for k, v := range own {
			f.Env[k] = v
		}
		for _, src := range []*yaml.Node{globals, props} {
			if n := child(src, "Timeout"); n != nil {
				fmt.Sscan(n.Value, &f.Timeout)
			}
			if n := child(src, "MemorySize"); n != nil {
				fmt.Sscan(n.Value, &f.MemorySize)
			}
		}
		if ev := child(props, "Events"); ev != nil {
			for j := 0; j+1 < len(ev.Content); j += 2 {
				var e struct {
					Type       string         `yaml:"Type"`
					Properties map[string]any `yaml:"Properties"`
				}
				if err := ev.Content[j+1].Decode(&e); err != nil {
					return nil, fmt.Errorf("function %s event %s: %w", id, ev.Content[j].Value, err)
				}
				f.Events = append(f.Events, Event{Name: ev.Content[j].Value, Type: e.Type, Properties: e.Properties})
			}
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// child returns the value node of key in a mapping node, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func envOf(n *yaml.Node) (map[string]Value, error) {
	vars := child(child(n, "Environment"), "Variables")
	out := map[string]Value{}
	if vars == nil {
		return out, nil
	}
	for i := 0; i+1 < len(vars.Content); i += 2 {
		v, err := valueOf(vars.Content[i+1])
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", vars.Content[i].Value, err)
		}
		out[vars.Content[i].Value] = v
	}
	return out, nil
}

func valueOf(n *yaml.Node) (Value, error) {
	switch n.Tag {
	case "!Ref", "!Sub", "!GetAtt":
		if n.Kind != yaml.ScalarNode {
			return Value{}, fmt.Errorf("%s with a list argument is not supported", n.Tag)
		}
		return Value{Fn: n.Tag[1:], Arg: n.Value}, nil
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k, v := n.Content[0].Value, n.Content[1]
		switch k {
		case "Ref", "Fn::Sub":
			return Value{Fn: strings.TrimPrefix(k, "Fn::"), Arg: v.Value}, nil
		case "Fn::GetAtt":
			if v.Kind == yaml.SequenceNode && len(v.Content) == 2 {
				return Value{Fn: "GetAtt", Arg: v.Content[0].Value + "." + v.Content[1].Value}, nil
			}
			return Value{Fn: "GetAtt", Arg: v.Value}, nil
		}
	}
	if n.Kind != yaml.ScalarNode {
		return Value{}, fmt.Errorf("unsupported value at line %d", n.Line)
	}
	return Value{Arg: n.Value}, nil
}

var subRef = regexp.MustCompile(`\$\{([A-Za-z0-9:.]+)\}`)

// Resolve returns the value with its intrinsic evaluated by ref, which maps a
// name ("DataTable", "Stage", "AWS::Region", "DataTable.Arn") to its value. An
// unknown name is an error.
func (v Value) Resolve(ref func(name string) (string, bool)) (string, error) {
	switch v.Fn {
	case "":
		return v.Arg, nil
	case "Ref", "GetAtt":
		s, ok := ref(v.Arg)
		if !ok {
			return "", fmt.Errorf("cannot resolve !%s %s", v.Fn, v.Arg)
		}
		return s, nil
	case "Sub":
		var missing []string
		out := subRef.ReplaceAllStringFunc(v.Arg, func(m string) string {
			name := m[2 : len(m)-1]
			s, ok := ref(name)
			if !ok {
				missing = append(missing, name)
			}
			return s
		})
		if len(missing) > 0 {
			return "", fmt.Errorf("cannot resolve %v in !Sub %s", missing, v.Arg)
		}
		return out, nil
	}
	return "", fmt.Errorf("unsupported intrinsic %s", v.Fn)
}

// SubRefs returns the names referenced as ${Name} in a !Sub string, in order.
func SubRefs(s string) []string {
	var out []string
	for _, m := range subRef.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// WebSocketRoute is one route of a WebSocket API with the function behind it.
type WebSocketRoute struct {
	Key      string
	Function string
	// Authorizer is the function of the route's REQUEST authorizer, or "".
	Authorizer string
	// IdentitySource lists the authorizer's identity sources.
	IdentitySource []string
}

// WebSocketAPI is an AWS::ApiGatewayV2::Api of protocol WEBSOCKET.
type WebSocketAPI struct {
	ID                       string
	RouteSelectionExpression string
	Routes                   map[string]WebSocketRoute
}

// WebSocketAPIs returns the template's WebSocket APIs with their routes.
func (t *Template) WebSocketAPIs() ([]WebSocketAPI, error) {
	var out []WebSocketAPI
	for _, id := range t.OfType("AWS::ApiGatewayV2::Api") {
		var p struct{ ProtocolType, RouteSelectionExpression string }
		if err := remarshal(t.Resources[id].Properties, &p); err != nil {
			return nil, fmt.Errorf("api %s: %w", id, err)
		}
		if p.ProtocolType != "WEBSOCKET" {
			continue
		}
		api := WebSocketAPI{ID: id, RouteSelectionExpression: p.RouteSelectionExpression, Routes: map[string]WebSocketRoute{}}
		for _, rid := range t.OfType("AWS::ApiGatewayV2::Route") {
			var r struct{ ApiId, RouteKey, AuthorizationType, AuthorizerId, Target string }
			if err := remarshal(t.Resources[rid].Properties, &r); err != nil {
				return nil, fmt.Errorf("route %s: %w", rid, err)
			}
			if r.ApiId != id {
				continue
			}
			route := WebSocketRoute{Key: r.RouteKey}
			refs := SubRefs(r.Target)
			if len(refs) != 1 {
				return nil, fmt.Errorf("route %s: target %q names no integration", rid, r.Target)
			}
			fn, err := t.lambdaOf(refs[0], "IntegrationUri")
			if err != nil {
				return nil, fmt.Errorf("route %s: %w", rid, err)
			}
			route.Function = fn
			if r.AuthorizationType == "CUSTOM" {
				if route.Authorizer, err = t.lambdaOf(r.AuthorizerId, "AuthorizerUri"); err != nil {
					return nil, fmt.Errorf("route %s: %w", rid, err)
				}
				var a struct {
					AuthorizerType string
					IdentitySource []string
				}
				if err := remarshal(t.Resources[r.AuthorizerId].Properties, &a); err != nil {
					return nil, fmt.Errorf("authorizer %s: %w", r.AuthorizerId, err)
				}
				if a.AuthorizerType != "REQUEST" {
					return nil, fmt.Errorf("authorizer %s: only REQUEST authorizers are supported", r.AuthorizerId)
				}
				route.IdentitySource = a.IdentitySource
			}
			api.Routes[r.RouteKey] = route
		}
		out = append(out, api)
	}
	return out, nil
}

// lambdaOf returns the function named in the uri property (an
// arn:...:functions/${Fn.Arn}/invocations !Sub) of resource id.
func (t *Template) lambdaOf(id, prop string) (string, error) {
	r, ok := t.Resources[id]
	if !ok {
		return "", fmt.Errorf("no resource %s", id)
	}
	uri, _ := r.Properties[prop].(string)
	for _, ref := range SubRefs(uri) {
		if fn, ok := strings.CutSuffix(ref, ".Arn"); ok {
			if t.Resources[fn].Type == "AWS::Serverless::Function" {
				return fn, nil
			}
		}
	}
	return "", fmt.Errorf("%s of %s names no function of the template", prop, id)
}

// Cors is an HTTP API's CorsConfiguration.
type Cors struct {
	AllowOrigins     []string
	AllowHeaders     []string
	AllowMethods     []string
	ExposeHeaders    []string
	AllowCredentials bool
	MaxAge           int
}

// HTTPAPI is an AWS::Serverless::HttpApi.
type HTTPAPI struct {
	ID    string
	Stage Value
	Cors  *Cors
}

// HTTPAPIs returns the template's HTTP APIs.
func (t *Template) HTTPAPIs() ([]HTTPAPI, error) {
	var out []HTTPAPI
	for _, id := range t.OfType("AWS::Serverless::HttpApi") {
		var p struct {
			StageName         string
			CorsConfiguration *Cors
		}
		if err := remarshal(t.Resources[id].Properties, &p); err != nil {
			return nil, fmt.Errorf("http api %s: %w", id, err)
		}
		api := HTTPAPI{ID: id, Cors: p.CorsConfiguration, Stage: Value{Arg: p.StageName}}
		if _, ok := t.Parameters[p.StageName]; ok {
			api.Stage = Value{Fn: "Ref", Arg: p.StageName}
		}
		out = append(out, api)
	}
	return out, nil
}

// StageOf returns the StageName of the AWS::ApiGatewayV2::Stage of an API, as a
// Value (a !Ref of a parameter when the name is one).
func (t *Template) StageOf(apiID string) (Value, bool) {
	for _, id := range t.OfType("AWS::ApiGatewayV2::Stage") {
		var p struct{ ApiId, StageName string }
		if remarshal(t.Resources[id].Properties, &p) == nil && p.ApiId == apiID {
			if _, ok := t.Parameters[p.StageName]; ok {
				return Value{Fn: "Ref", Arg: p.StageName}, true
			}
			return Value{Arg: p.StageName}, true
		}
	}
	return Value{}, false
}

// Decode decodes raw properties (an Event's, say) into out, matching field
// names without regard to case.
func Decode(in, out any) error { return remarshal(in, out) }

// Allowed returns the actions of service (the IAM prefix: "dynamodb") that a
// function's inline policy statements allow on resource, written as the
// template writes it ("DataTable.Arn", "${DataTable.Arn}/index/GSI1"): without
// the prefix, sorted, each once.
func (t *Template) Allowed(fnID, resource, service string) []string {
	var out []string
	pols, _ := t.Resources[fnID].Properties["Policies"].([]any)
	for _, pol := range pols {
		pm, _ := pol.(map[string]any)
		stmts, _ := pm["Statement"].([]any)
		for _, s := range stmts {
			st, _ := s.(map[string]any)
			if fmt.Sprint(st["Resource"]) != resource {
				continue
			}
			acts, _ := st["Action"].([]any)
			for _, a := range acts {
				if name, ok := strings.CutPrefix(fmt.Sprint(a), service+":"); ok {
					out = append(out, name)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
