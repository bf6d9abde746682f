package testaws

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// Faults makes a chosen share of chosen DynamoDB calls fail, the way a
// throttled or slow table fails them, so tests can show that the callers' own
// retries (a client's resend, a stream's redelivery, a re-run) lose and double
// nothing. A fault is injected either before the call is sent (nothing
// happened) or after DynamoDB applied it (the write happened, but the caller
// sees an error: the case that idempotency must cover). It is one of
// ProvisionedThroughputExceededException, ThrottlingException or a timeout
// (context.DeadlineExceeded, as the SDK reports a deadline).
//
// The faults stand for what a caller sees after the SDK's own retries gave up:
// they are injected in the Initialize step, outside the retry loop. Which calls
// fail is drawn from a random source seeded by the test, in call order, so a
// test that makes its calls in a fixed order fails the same calls every run.
// A Faults is off until Set; it is safe for concurrent use.
type Faults struct {
	mu   sync.Mutex
	rng  *rand.Rand
	spec FaultSpec
	ops  map[string]bool
	log  []Fault
	n    map[string]int // calls seen per operation while on
}

// FaultSpec says which calls fail and how.
type FaultSpec struct {
	// Rate is the share of matching calls that fail (0 to 1).
	Rate float64
	// After is the share of the failures injected after DynamoDB applied the
	// call (0: all before it is sent; 1: all after).
	After float64
	// Timeout is the share of the failures that are timeouts; the rest are
	// throttling errors (half ProvisionedThroughputExceededException, half
	// ThrottlingException).
	Timeout float64
	// Ops names the operations that may fail ("PutItem", "TransactWriteItems",
	// ...); none means every operation.
	Ops []string
}

// Fault is one injected failure.
type Fault struct {
	Op    string
	After bool   // injected after the call was applied
	Kind  string // "ProvisionedThroughputExceededException", "ThrottlingException" or "Timeout"
}

// NewFaults returns faults that are off, drawing from seed once set.
func NewFaults(seed uint64) *Faults {
	return &Faults{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), n: map[string]int{}}
}

// Set turns faults on as spec says (Rate 0 turns them off).
func (f *Faults) Set(spec FaultSpec) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.spec = spec
	f.ops = map[string]bool{}
	for _, op := range spec.Ops {
		f.ops[op] = true
	}
}

// Off stops injecting faults; calls then reach DynamoDB unharmed.
func (f *Faults) Off() { f.Set(FaultSpec{}) }

// Injected returns the faults injected so far, in order.
func (f *Faults) Injected() []Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Fault(nil), f.log...)
}

// Summary describes the injected faults per operation and kind, for test logs.
func (f *Faults) Summary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := map[string]int{}
	for _, x := range f.log {
		when := "before"
		if x.After {
			when = "after"
		}
		c[x.Op+" "+x.Kind+" "+when]++
	}
	var lines []string
	for k, v := range c {
		lines = append(lines, fmt.Sprintf("%s: %d", k, v))
	}
	sort.Strings(lines)
	var calls []string
	for op, n := range f.n {
		calls = append(calls, fmt.Sprintf("%s %d", op, n))
	}
	sort.Strings(calls)
	return fmt.Sprintf("%d faults in %d calls (%s): %s", len(f.log), total(f.n), strings.Join(calls, ", "), strings.Join(lines, "; "))
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// draw decides the fate of one call of op: nil, or the fault to inject.
func (f *Faults) draw(op string) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.spec.Rate <= 0 || (len(f.ops) > 0 && !f.ops[op]) {
		return nil
	}
	f.n[op]++
	if f.rng.Float64() >= f.spec.Rate {
		return nil
	}
	x := Fault{Op: op, After: f.rng.Float64() < f.spec.After}
	switch {
	case f.rng.Float64() < f.spec.Timeout:
		x.Kind = "Timeout"
	case f.rng.IntN(2) == 0:
		x.Kind = "ProvisionedThroughputExceededException"
	default:
		x.Kind = "ThrottlingException"
	}
	return &x
}

// record logs an injected fault.
func (f *Faults) record(x *Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, *x)
}

// Err returns the error of the fault as the SDK's retry loop hands it up; the
// client wraps it in a smithy.OperationError naming the operation.
func (x Fault) Err() error {
	switch x.Kind {
	case "Timeout":
		return &smithy.CanceledError{Err: context.DeadlineExceeded}
	case "ProvisionedThroughputExceededException":
		return &types.ProvisionedThroughputExceededException{Message: aws.String("injected: the level of configured provisioned throughput for the table was exceeded")}
	}
	return &smithy.GenericAPIError{Code: "ThrottlingException", Message: "injected: rate of requests exceeds the allowed throughput", Fault: smithy.FaultServer}
}

// Option returns the client option that adds the faults to a DynamoDB client:
// dynamodb.NewFromConfig(cfg, f.Option()).
func (f *Faults) Option() func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(slices.Clone(o.APIOptions), func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("testaws.faults",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					x := f.draw(middleware.GetOperationName(ctx))
					if x != nil && !x.After {
						f.record(x)
						return middleware.InitializeOutput{}, middleware.Metadata{}, x.Err()
					}
					out, md, err := next.HandleInitialize(ctx, in)
					if x != nil && err == nil { // a call that failed anyway keeps its own error
						f.record(x)
						return middleware.InitializeOutput{}, md, x.Err()
					}
					return out, md, err
				}), middleware.Before)
		})
	}
}

// Client returns a DynamoDB client for cfg with the faults, plus any more
// options (a Meter's, say).
func (f *Faults) Client(cfg aws.Config, more ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, append([]func(*dynamodb.Options){f.Option()}, more...)...)
}
