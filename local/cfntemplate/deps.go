package cfntemplate

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Graph is what a CloudFormation template's resources depend on: every Ref,
// Fn::GetAtt, ${} of an Fn::Sub and DependsOn, and the names among them that
// name nothing. It reads the JSON form of a template (after the SAM transform:
// the template CloudFormation itself is given).
type Graph struct {
	// Edges maps each resource to the resources it names.
	Edges map[string][]string
	// Dangling lists "<where>: <name>" for each reference that names no
	// resource, parameter, pseudo parameter or condition.
	Dangling []string
}

// pseudo are CloudFormation's pseudo parameters.
var pseudo = map[string]bool{"AWS::AccountId": true, "AWS::NotificationARNs": true, "AWS::NoValue": true,
	"AWS::Partition": true, "AWS::Region": true, "AWS::StackId": true, "AWS::StackName": true, "AWS::URLSuffix": true}

// Dependencies builds the graph of a template decoded from JSON.
func Dependencies(tpl map[string]any) Graph {
	resources, _ := tpl["Resources"].(map[string]any)
	params, _ := tpl["Parameters"].(map[string]any)
	conds, _ := tpl["Conditions"].(map[string]any)
	g := Graph{Edges: map[string][]string{}}
	known := func(name string) bool {
		_, r := resources[name]
		_, p := params[name]
		return r || p || pseudo[name]
	}
	check := func(where string, names []string, add func(string)) {
		for _, n := range names {
			switch {
			case !known(n):
				g.Dangling = append(g.Dangling, where+": "+n)
			case resources[n] != nil:
				add(n)
			}
		}
	}
	for id, r := range resources {
		res, _ := r.(map[string]any)
		seen := map[string]bool{}
		add := func(n string) {
			if !seen[n] {
				seen[n] = true
				g.Edges[id] = append(g.Edges[id], n)
			}
		}
		var dependsOn []string
		switch d := res["DependsOn"].(type) {
		case string:
			dependsOn = []string{d}
		case []any:
			for _, v := range d {
				dependsOn = append(dependsOn, fmt.Sprint(v))
			}
		}
		check(id+" DependsOn", dependsOn, add)
		if c, ok := res["Condition"].(string); ok && conds[c] == nil {
			g.Dangling = append(g.Dangling, id+" Condition: "+c)
		}
		refs, condRefs := references(res["Properties"], nil)
		check(id, refs, add)
		for _, c := range condRefs {
			if conds[c] == nil {
				g.Dangling = append(g.Dangling, id+" Fn::If: "+c)
			}
		}
		sort.Strings(g.Edges[id])
	}
	for name, o := range asMap(tpl["Outputs"]) {
		refs, _ := references(o, nil)
		check("Outputs."+name, refs, func(string) {})
	}
	sort.Strings(g.Dangling)
	return g
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// references returns the names that v refers to (logical ids and parameters;
// for GetAtt the resource) and the conditions its Fn::If name. local holds the
// variables an enclosing Fn::Sub defines.
func references(v any, local map[string]bool) (names, conds []string) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			n, c := references(e, local)
			names, conds = append(names, n...), append(conds, c...)
		}
	case map[string]any:
		if len(x) == 1 {
			for fn, arg := range x {
				switch fn {
				case "Ref":
					if s, ok := arg.(string); ok {
						return []string{s}, nil
					}
				case "Fn::GetAtt":
					switch a := arg.(type) {
					case string:
						id, _, _ := strings.Cut(a, ".")
						return []string{id}, nil
					case []any:
						if len(a) > 0 {
							n, c := references(a[1:], local)
							return append([]string{fmt.Sprint(a[0])}, n...), c
						}
					}
				case "Fn::Sub":
					return subReferences(arg, local)
				case "Fn::If":
					if a, ok := arg.([]any); ok && len(a) == 3 {
						n, c := references(a[1:], local)
						return n, append([]string{fmt.Sprint(a[0])}, c...)
					}
				case "Condition":
					if s, ok := arg.(string); ok {
						return nil, []string{s}
					}
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			n, c := references(x[k], local)
			names, conds = append(names, n...), append(conds, c...)
		}
	}
	return names, conds
}

// subReferences reads the ${} of an Fn::Sub: its string form, or [string,
// {variables}] whose variables are local names.
func subReferences(arg any, local map[string]bool) (names, conds []string) {
	var s string
	vars := map[string]bool{}
	for k := range local {
		vars[k] = true
	}
	switch a := arg.(type) {
	case string:
		s = a
	case []any:
		if len(a) != 2 {
			return nil, nil
		}
		s, _ = a[0].(string)
		m, _ := a[1].(map[string]any)
		for k, v := range m {
			vars[k] = true
			n, c := references(v, local)
			names, conds = append(names, n...), append(conds, c...)
		}
	}
	for _, ref := range SubRefs(s) {
		id, _, _ := strings.Cut(ref, ".")
		if !vars[ref] && !vars[id] {
			names = append(names, id)
		}
	}
	return names, conds
}

// Cycles returns the dependency cycles of the graph: each strongly connected
// set of two or more resources, or a resource that names itself, sorted.
func (g Graph) Cycles() [][]string {
	index, low := map[string]int{}, map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	next := 0
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range g.Edges[v] {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		var scc []string
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			scc = append(scc, w)
			if w == v {
				break
			}
		}
		if len(scc) > 1 || slices.Contains(g.Edges[v], v) {
			sort.Strings(scc)
			out = append(out, scc)
		}
	}
	ids := make([]string, 0, len(g.Edges))
	for id := range g.Edges {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if _, seen := index[id]; !seen {
			visit(id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}
