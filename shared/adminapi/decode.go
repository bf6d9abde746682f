package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"

	"github.com/livesupportbot/backend/shared/chat"
)

// decodeStrict decodes body, which must be one JSON object, into v (a pointer to
// a struct). It checks every field before decoding, so the error lists all
// failing fields at once: unknown names (matched exactly, not case-folded),
// values of the wrong type, nested objects alike. Trailing data is an error.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fieldError("body", "a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return fieldError("body", "malformed JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fieldError("body", "unexpected data after the JSON object")
	}
	issues := map[string]string{}
	checkObject(raw, reflect.TypeOf(v).Elem(), "", issues)
	if len(issues) > 0 {
		return &chat.Error{Code: chat.EInvalid, Message: "the request body has invalid fields", Fields: issues}
	}
	dec = json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// checkObject accepts only what this decode accepts; this is a safety net.
		return fieldError("body", "does not match the expected shape")
	}
	return nil
}

// checkObject records in issues every problem of raw as a value of struct type t.
func checkObject(raw json.RawMessage, t reflect.Type, prefix string, issues map[string]string) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		issues[fieldName(prefix, "body")] = "must be a JSON object"
		return
	}
	fields := jsonFields(t)
	for name, val := range obj {
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		ft, ok := fields[name]
		if !ok {
			issues[path] = "unknown field"
			continue
		}
		st := ft
		for st.Kind() == reflect.Pointer {
			st = st.Elem()
		}
		if st.Kind() == reflect.Struct && !isLeafStruct(st) && string(bytes.TrimSpace(val)) != "null" {
			checkObject(val, st, path, issues)
			continue
		}
		dst := reflect.New(ft)
		if err := json.Unmarshal(val, dst.Interface()); err != nil {
			issues[path] = "must be " + describe(ft)
		}
	}
}

func fieldName(prefix, def string) string {
	if prefix == "" {
		return def
	}
	return prefix
}

// isLeafStruct reports whether a struct decodes from a JSON scalar (time.Time).
func isLeafStruct(t reflect.Type) bool {
	return reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]())
}

// jsonFields maps the JSON names of a struct's fields (embedded fields flattened)
// to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// describe names a Go type the way a JSON client thinks of it.
func describe(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(describe(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a valid value"
}
