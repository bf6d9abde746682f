package stack

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/livesupportbot/backend/local/cfntemplate"
	"github.com/livesupportbot/backend/local/lambdarunner"
	"github.com/livesupportbot/backend/local/schedules"
	"github.com/livesupportbot/backend/local/streams"
	"github.com/livesupportbot/backend/local/ttl"
)

// mapping plays a DynamoDB event of function fnID: its stream mapping (nil
// when disabled), with the on-failure destination logged.
func mapping(fnID string, ev cfntemplate.Event, fn *lambdarunner.Pool, r *resolver, ledger *ttl.Ledger, log *slog.Logger) (*streams.Mapping, error) {
	var p struct {
		Stream                     string
		StartingPosition           string
		BatchSize                  int
		ParallelizationFactor      int
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
		ParallelizationFactor: p.ParallelizationFactor, StartingPosition: p.StartingPosition, BisectBatchOnFunctionError: p.BisectBatchOnFunctionError,
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

// schedule plays a Schedule or ScheduleV2 event of function fnID (nil when
// disabled).
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
