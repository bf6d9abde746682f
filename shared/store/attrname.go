package store

import (
	"reflect"
	"strings"
)

// attrName returns the attribute name attributevalue gives the field of struct
// value v: its dynamodbav tag name, or the Go field name. Update expressions of
// the domain types (which carry json tags only) use it, so they follow the
// marshalled names even if tags are added later.
func attrName(v any, field string) string {
	f, ok := reflect.TypeOf(v).FieldByName(field)
	if !ok {
		panic("store: no field " + field) // a programming error, caught by any test
	}
	if name, _, _ := strings.Cut(f.Tag.Get("dynamodbav"), ","); name != "" && name != "-" {
		return name
	}
	return f.Name
}
