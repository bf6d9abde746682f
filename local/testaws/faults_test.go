package testaws_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/livesupportbot/backend/local/testaws"
)

func put(ctx context.Context, db *dynamodb.Client, table, pk string) error {
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: testaws.Key(pk, "X")})
	return err
}

func exists(t *testing.T, db *dynamodb.Client, table, pk string) bool {
	t.Helper()
	res, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: testaws.Key(pk, "X"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return res.Item != nil
}

// isInjected reports whether err is one of the errors a throttled or timed-out
// call returns through the SDK.
func isInjected(err error) bool {
	var pt *types.ProvisionedThroughputExceededException
	var api smithy.APIError
	var op *smithy.OperationError
	return errors.As(err, &op) && (errors.As(err, &pt) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &api) && api.ErrorCode() == "ThrottlingException"))
}

func TestFaults_BeforeFailsWithoutWritingAfterWritesThenFails(t *testing.T) {
	tt := testaws.NewTables(t)
	ctx := context.Background()
	for _, after := range []bool{false, true} {
		f := testaws.NewFaults(1)
		db := f.Client(testaws.Config(t))
		share := 0.0
		if after {
			share = 1
		}
		f.Set(testaws.FaultSpec{Rate: 1, After: share, Timeout: 0.5, Ops: []string{"PutItem"}})
		pk := fmt.Sprintf("after-%v", after)
		err := put(ctx, db, tt.Data, pk)
		if !isInjected(err) {
			t.Fatalf("after=%v: err %v, want an injected throttle or timeout", after, err)
		}
		if got := exists(t, tt.DB, tt.Data, pk); got != after {
			t.Fatalf("after=%v: item written %v", after, got)
		}
		// Other operations pass, and so does everything once off.
		if _, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tt.Data), Key: testaws.Key(pk, "X")}); err != nil {
			t.Fatalf("GetItem was not chosen but failed: %v", err)
		}
		f.Off()
		if err := put(ctx, db, tt.Data, pk+"-off"); err != nil {
			t.Fatalf("faults off: %v", err)
		}
		if inj := f.Injected(); len(inj) != 1 || inj[0].Op != "PutItem" || inj[0].After != after {
			t.Fatalf("injected %+v", inj)
		}
	}
}

func TestFaults_SameSeedFailsTheSameCalls(t *testing.T) {
	tt := testaws.NewTables(t)
	ctx := context.Background()
	pattern := func(seed uint64) ([]bool, []testaws.Fault) {
		f := testaws.NewFaults(seed)
		db := f.Client(testaws.Config(t))
		f.Set(testaws.FaultSpec{Rate: 0.3, After: 0.5, Timeout: 0.3})
		var failed []bool
		for i := range 200 {
			err := put(ctx, db, tt.Data, fmt.Sprintf("seed-%d-%d", seed, i))
			if err != nil && !isInjected(err) {
				t.Fatalf("call %d: %v", i, err)
			}
			failed = append(failed, err != nil)
		}
		return failed, f.Injected()
	}
	a, fa := pattern(7)
	b, fb := pattern(7)
	c, _ := pattern(8)
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(fa, fb) {
		t.Fatal("the same seed failed different calls")
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("another seed failed the same calls")
	}
	// 30% of 200: the count is binomial (mean 60, sd 6.5).
	if n := len(fa); n < 35 || n > 85 {
		t.Fatalf("%d faults in 200 calls at rate 0.3", n)
	}
	kinds := map[string]int{}
	after := 0
	for _, x := range fa {
		kinds[x.Kind]++
		if x.After {
			after++
		}
	}
	if len(kinds) != 3 || after == 0 || after == len(fa) {
		t.Fatalf("kinds %v, %d of %d after: want every kind, before and after", kinds, after, len(fa))
	}
}
