package archive_test

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/livesupportbot/backend/local/streams"
	"github.com/livesupportbot/backend/local/testaws"
	"github.com/livesupportbot/backend/shared/archive"
)

// TestTemplateFilter_PassesOnlyTTLRemovals checks the event source mapping's
// filter in template.yaml against the sample records: the TTL removal passes,
// the user's delete does not, and the filter agrees with IsTTLRemoval.
func TestTemplateFilter_PassesOnlyTTLRemovals(t *testing.T) {
	fn := testaws.Template(t).Resources["ArchiveFunction"]
	var props struct {
		Events map[string]struct {
			Type       string
			Properties struct {
				FunctionResponseTypes []string
				FilterCriteria        struct{ Filters []struct{ Pattern string } }
				DestinationConfig     struct{ OnFailure struct{ Destination any } }
			}
		}
	}
	b, _ := json.Marshal(fn.Properties)
	if err := json.Unmarshal(b, &props); err != nil {
		t.Fatal(err)
	}
	ev, ok := props.Events["TTLRemovals"]
	if !ok || ev.Type != "DynamoDB" || len(ev.Properties.FilterCriteria.Filters) != 1 {
		t.Fatalf("ArchiveFunction has no single-filter DynamoDB event: %+v", props.Events)
	}
	if len(ev.Properties.FunctionResponseTypes) != 1 || ev.Properties.FunctionResponseTypes[0] != "ReportBatchItemFailures" ||
		ev.Properties.DestinationConfig.OnFailure.Destination == nil {
		t.Fatalf("stream mapping lacks batch item failures or an on-failure destination: %+v", ev.Properties)
	}
	// The local stack's implementation of Lambda event filtering.
	filter, err := streams.ParseFilter(ev.Properties.FilterCriteria.Filters[0].Pattern)
	if err != nil {
		t.Fatal(err)
	}
	var sample events.DynamoDBEvent
	testaws.LoadEvent(t, "archive.json", &sample)
	for i, r := range sample.Records {
		raw, _ := json.Marshal(r)
		var rec map[string]any
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		if got, want := filter.Match(rec), archive.IsTTLRemoval(r); got != want || (i == 0) != want {
			t.Errorf("record %d: filter passes %v, IsTTLRemoval %v", i, got, want)
		}
	}
}
