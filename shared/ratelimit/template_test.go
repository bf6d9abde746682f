package ratelimit_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/livesupportbot/backend/local/testaws"
)

// TestTemplate_EveryFunctionHasReservedConcurrency: each function reserves
// concurrency from its group's parameter (0 reserving none), so a flood on one
// cannot starve the others, and the defaults together leave the 100 unreserved
// that Lambda requires of the default quota of 1,000.
func TestTemplate_EveryFunctionHasReservedConcurrency(t *testing.T) {
	tpl := testaws.Template(t)
	total := 0
	fns := tpl.OfType("AWS::Serverless::Function")
	if len(fns) == 0 {
		t.Fatal("no functions")
	}
	for _, id := range fns {
		v, ok := tpl.Resources[id].Properties["ReservedConcurrentExecutions"].([]any)
		if !ok || len(v) != 3 {
			t.Errorf("%s: ReservedConcurrentExecutions %v, want !If [Reserve<Group>Concurrency, !Ref <Group>Concurrency, !Ref AWS::NoValue]", id, v)
			continue
		}
		cond, param, none := fmt.Sprint(v[0]), fmt.Sprint(v[1]), fmt.Sprint(v[2])
		p, declared := tpl.Parameters[param]
		if !declared || !strings.HasSuffix(param, "Concurrency") || cond != "Reserve"+param || none != "AWS::NoValue" {
			t.Errorf("%s: ReservedConcurrentExecutions %v", id, v)
			continue
		}
		n, _ := p.Default.(int)
		if n < 1 {
			t.Errorf("%s: %s defaults to %v, want a reservation", id, param, p.Default)
		}
		total += n
	}
	if total > 900 {
		t.Errorf("the default reservations add up to %d, over the 900 a default account allows", total)
	}
	t.Logf("%d functions reserve %d by default", len(fns), total)
}
