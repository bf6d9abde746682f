package streams

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Filter is one event filter pattern of an event source mapping
// (FilterCriteria.Filters[].Pattern), the EventBridge pattern syntax that
// Lambda applies to each record. It supports exact values, prefix, suffix,
// anything-but, exists and numeric comparisons.
type Filter struct{ pattern map[string]any }

// ParseFilter parses a pattern.
func ParseFilter(pattern string) (Filter, error) {
	var p map[string]any
	if err := json.Unmarshal([]byte(pattern), &p); err != nil {
		return Filter{}, fmt.Errorf("filter pattern %q: %w", pattern, err)
	}
	if err := check(p); err != nil {
		return Filter{}, fmt.Errorf("filter pattern %q: %w", pattern, err)
	}
	return Filter{pattern: p}, nil
}

func check(p map[string]any) error {
	for k, v := range p {
		switch v := v.(type) {
		case map[string]any:
			if err := check(v); err != nil {
				return err
			}
		case []any:
			for _, c := range v {
				if m, ok := c.(map[string]any); ok {
					for op := range m {
						switch op {
						case "prefix", "suffix", "anything-but", "exists", "numeric", "equals-ignore-case":
						default:
							return fmt.Errorf("unsupported operator %q at %s", op, k)
						}
					}
				}
			}
		default:
			return fmt.Errorf("field %s must be an object or a list", k)
		}
	}
	return nil
}

// Match reports whether a record (its JSON shape as a generic value) matches.
func (f Filter) Match(record map[string]any) bool { return matchObject(f.pattern, record) }

func matchObject(p map[string]any, v map[string]any) bool {
	for k, pv := range p {
		val, present := v[k]
		switch pv := pv.(type) {
		case map[string]any:
			sub, ok := val.(map[string]any)
			if !ok {
				return false
			}
			if !matchObject(pv, sub) {
				return false
			}
		case []any:
			if !matchLeaf(pv, val, present) {
				return false
			}
		}
	}
	return true
}

func matchLeaf(conds []any, val any, present bool) bool {
	for _, c := range conds {
		if matchCond(c, val, present) {
			return true
		}
	}
	return false
}

func matchCond(c any, val any, present bool) bool {
	m, ok := c.(map[string]any)
	if !ok {
		// An exact value; a list value matches when any element does.
		if l, ok := val.([]any); ok {
			for _, e := range l {
				if equal(c, e) {
					return true
				}
			}
			return false
		}
		return present && equal(c, val)
	}
	for op, arg := range m {
		s, isStr := val.(string)
		switch op {
		case "exists":
			want, _ := arg.(bool)
			if present != want {
				return false
			}
		case "prefix":
			a, _ := arg.(string)
			if !isStr || !strings.HasPrefix(s, a) {
				return false
			}
		case "suffix":
			a, _ := arg.(string)
			if !isStr || !strings.HasSuffix(s, a) {
				return false
			}
		case "equals-ignore-case":
			a, _ := arg.(string)
			if !isStr || !strings.EqualFold(s, a) {
				return false
			}
		case "anything-but":
			if !present {
				return false
			}
			switch a := arg.(type) {
			case []any:
				for _, x := range a {
					if equal(x, val) {
						return false
					}
				}
			case map[string]any:
				if pre, ok := a["prefix"].(string); ok && isStr && strings.HasPrefix(s, pre) {
					return false
				}
			default:
				if equal(a, val) {
					return false
				}
			}
		case "numeric":
			if !matchNumeric(arg, val) {
				return false
			}
		}
	}
	return true
}

func equal(a, b any) bool {
	switch a := a.(type) {
	case float64:
		switch b := b.(type) {
		case float64:
			return a == b
		case string:
			var f float64
			_, err := fmt.Sscan(b, &f)
			return err == nil && f == a
		}
		return false
	}
	return a == b
}

func matchNumeric(arg, val any) bool {
	var x float64
	switch v := val.(type) {
	case float64:
		x = v
	case string:
		if _, err := fmt.Sscan(v, &x); err != nil {
			return false
		}
	default:
		return false
	}
	ops, ok := arg.([]any)
	if !ok {
		return false
	}
	for i := 0; i+1 < len(ops); i += 2 {
		op, _ := ops[i].(string)
		n, _ := ops[i+1].(float64)
		ok := false
		switch op {
		case "=":
			ok = x == n
		case "<":
			ok = x < n
		case "<=":
			ok = x <= n
		case ">":
			ok = x > n
		case ">=":
			ok = x >= n
		}
		if !ok {
			return false
		}
	}
	return true
}
