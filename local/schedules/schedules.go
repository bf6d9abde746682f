// Package schedules plays EventBridge schedules for the local stack: rate(...)
// and cron(...) expressions, each invoking its function with the event
// EventBridge sends (or the schedule's own Input).
package schedules

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Expression is a parsed schedule expression.
type Expression interface {
	// Next returns the first run strictly after t.
	Next(t time.Time) time.Time
}

// Parse parses "rate(5 minutes)" or "cron(0 3 * * ? *)" (AWS syntax: minutes,
// hours, day of month, month, day of week, year). Times are in loc (UTC when nil).
func Parse(expr string, loc *time.Location) (Expression, error) {
	if loc == nil {
		loc = time.UTC
	}
	expr = strings.TrimSpace(expr)
	switch {
	case strings.HasPrefix(expr, "rate(") && strings.HasSuffix(expr, ")"):
		return parseRate(expr[5 : len(expr)-1])
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		return parseCron(expr[5:len(expr)-1], loc)
	case strings.HasPrefix(expr, "at(") && strings.HasSuffix(expr, ")"):
		t, err := time.ParseInLocation("2006-01-02T15:04:05", expr[3:len(expr)-1], loc)
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", expr, err)
		}
		return once(t), nil
	}
	return nil, fmt.Errorf("schedule %q: want rate(...), cron(...) or at(...)", expr)
}

type rate time.Duration

func (r rate) Next(t time.Time) time.Time { return t.Add(time.Duration(r)) }

func parseRate(s string) (Expression, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return nil, fmt.Errorf("rate(%s): want \"value unit\"", s)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 1 {
		return nil, fmt.Errorf("rate(%s): value must be a positive integer", s)
	}
	unit := map[string]time.Duration{"minute": time.Minute, "minutes": time.Minute, "hour": time.Hour,
		"hours": time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour}[f[1]]
	if unit == 0 {
		return nil, fmt.Errorf("rate(%s): unit must be minute(s), hour(s) or day(s)", s)
	}
	if (n == 1) != !strings.HasSuffix(f[1], "s") {
		return nil, fmt.Errorf("rate(%s): use the singular unit for 1 and the plural otherwise", s)
	}
	return rate(time.Duration(n) * unit), nil
}

type once time.Time

func (o once) Next(t time.Time) time.Time {
	if time.Time(o).After(t) {
		return time.Time(o)
	}
	return time.Time{}
}

type cron struct {
	minute, hour, dom, month, dow, year map[int]bool
	domAny, dowAny                      bool
	loc                                 *time.Location
}

var (
	monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
	dayNames   = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
)

func parseCron(s string, loc *time.Location) (Expression, error) {
	f := strings.Fields(s)
	if len(f) != 6 {
		return nil, fmt.Errorf("cron(%s): want 6 fields", s)
	}
	c := &cron{loc: loc}
	var err error
	fields := []struct {
		set      *map[int]bool
		lo, hi   int
		names    map[string]int
		question *bool
	}{
		{set: &c.minute, lo: 0, hi: 59},
		{set: &c.hour, lo: 0, hi: 23},
		{set: &c.dom, lo: 1, hi: 31, question: &c.domAny},
		{set: &c.month, lo: 1, hi: 12, names: monthNames},
		{set: &c.dow, lo: 1, hi: 7, names: dayNames, question: &c.dowAny},
		{set: &c.year, lo: 1970, hi: 2199},
	}
	for i, fd := range fields {
		if f[i] == "?" {
			if fd.question == nil {
				return nil, fmt.Errorf("cron(%s): ? only in day-of-month or day-of-week", s)
			}
			*fd.question = true
			continue
		}
		if *fd.set, err = parseField(f[i], fd.lo, fd.hi, fd.names); err != nil {
			return nil, fmt.Errorf("cron(%s): field %d: %w", s, i+1, err)
		}
	}
	if c.domAny == c.dowAny {
		return nil, fmt.Errorf("cron(%s): exactly one of day-of-month and day-of-week must be ?", s)
	}
	return c, nil
}

func parseField(s string, lo, hi int, names map[string]int) (map[int]bool, error) {
	out := map[int]bool{}
	num := func(x string) (int, error) {
		if n, ok := names[strings.ToUpper(x)]; ok {
			return n, nil
		}
		n, err := strconv.Atoi(x)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("%q is not in %d-%d", x, lo, hi)
		}
		return n, nil
	}
	for _, part := range strings.Split(s, ",") {
		rng, stepS, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			var err error
			if step, err = strconv.Atoi(stepS); err != nil || step < 1 {
				return nil, fmt.Errorf("bad step %q", stepS)
			}
		}
		from, to := lo, hi
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if from, err = num(a); err != nil {
				return nil, err
			}
			if to, err = num(b); err != nil {
				return nil, err
			}
		default:
			if strings.ContainsAny(rng, "LW#") {
				return nil, fmt.Errorf("%q: L, W and # are not supported locally", rng)
			}
			n, err := num(rng)
			if err != nil {
				return nil, err
			}
			from = n
			if !hasStep {
				to = n
			}
		}
		if from > to {
			return nil, fmt.Errorf("range %q runs backwards", rng)
		}
		for v := from; v <= to; v += step {
			out[v] = true
		}
	}
	return out, nil
}

func (c *cron) dayMatches(t time.Time) bool {
	if c.domAny {
		return c.dow[int(t.Weekday())+1]
	}
	return c.dom[t.Day()]
}

// Next walks forward field by field: a month, day or hour that cannot match is
// skipped whole.
func (c *cron) Next(after time.Time) time.Time {
	t := after.In(c.loc).Truncate(time.Minute).Add(time.Minute)
	limit := t.AddDate(10, 0, 0)
	for t.Before(limit) {
		switch {
		case !c.year[t.Year()]:
			t = time.Date(t.Year()+1, 1, 1, 0, 0, 0, 0, c.loc)
		case !c.month[int(t.Month())]:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, c.loc)
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, c.loc)
		case !c.hour[t.Hour()]:
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, c.loc)
		case !c.minute[t.Minute()]:
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}

// Invoker invokes the schedule's function.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Schedule is one schedule of a function.
type Schedule struct {
	Name     string // rule name: "RetentionSweepFunction/Daily"
	Expr     Expression
	Input    string // the schedule's Input; "" sends the scheduled event
	Function Invoker
	Log      *slog.Logger
}

// Event returns the payload of a run at t.
func (s *Schedule) Event(t time.Time) []byte {
	if s.Input != "" {
		return []byte(s.Input)
	}
	b := make([]byte, 16)
	rand.Read(b)
	ev, _ := json.Marshal(map[string]any{
		"version": "0", "id": fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]),
		"detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
		"time": t.UTC().Format(time.RFC3339), "region": "us-east-1",
		"resources": []string{"arn:aws:events:us-east-1:123456789012:rule/" + strings.ReplaceAll(s.Name, "/", "-")},
		"detail":    map[string]any{},
	})
	return ev
}

// Run invokes the function at every time the expression names, until ctx ends.
func (s *Schedule) Run(ctx context.Context) {
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for next := s.Expr.Next(time.Now()); !next.IsZero(); next = s.Expr.Next(next) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		log.Info("schedule fired", "schedule", s.Name)
		if _, err := s.Function.Invoke(ctx, s.Event(next)); err != nil && ctx.Err() == nil {
			log.Error("scheduled invocation failed", "schedule", s.Name, "error", err)
		}
	}
}
