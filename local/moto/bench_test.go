package moto

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// BenchmarkGrowingTable measures what the patch is for: the time of a
// partition Query, a filtered Scan page (as the local TTL sweep reads), a
// PutItem and a cancelled TransactWriteItems, against a table of 1,000 and
// 10,000 items written through its stream. With the patch they stay flat as
// the table grows; MOTO_UNPATCHED=1 measures moto as shipped.
func BenchmarkGrowingTable(b *testing.B) {
	for _, size := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("items=%d", size), func(b *testing.B) {
			db, _, table, _, _ := streamTable(b, nil)
			ctx := context.Background()
			for i := range size {
				put(b, db, table, item(fmt.Sprintf("p%d", i%100), fmt.Sprintf("s%06d", i), "x"))
			}
			ops := map[string]func(i int) error{
				"query": func(int) error {
					_, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: aws.String("PK = :p"),
						ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "p7"}}})
					return err
				},
				"scan-page": func(int) error {
					_, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), Limit: aws.Int32(500), FilterExpression: aws.String("v = :v"),
						ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "none"}}})
					return err
				},
				"put": func(i int) error {
					_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item("new", fmt.Sprint(i), "y")})
					return err
				},
				"cancelled-transaction": func(i int) error {
					_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
						{Put: &types.Put{TableName: aws.String(table), Item: item("p1", "s000001", "z"), ConditionExpression: aws.String("attribute_not_exists(PK)")}},
					}})
					if err == nil {
						return fmt.Errorf("the transaction was not cancelled")
					}
					return nil
				},
			}
			for _, name := range []string{"query", "scan-page", "put", "cancelled-transaction"} {
				b.Run(name, func(b *testing.B) {
					for i := range b.N {
						if err := ops[name](i); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
