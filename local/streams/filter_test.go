package streams

import (
	"encoding/json"
	"testing"
)

func TestFilter_Match(t *testing.T) {
	msgInsert := `{"eventName":"INSERT","dynamodb":{"Keys":{"PK":{"S":"T#1#CONV#C1"},"SK":{"S":"MSG#01"}},"NewImage":{"n":{"N":"5"}}}}`
	convInsert := `{"eventName":"INSERT","dynamodb":{"Keys":{"PK":{"S":"T#1#CONV#C1"},"SK":{"S":"CONV#C1"}}}}`
	msgModify := `{"eventName":"MODIFY","dynamodb":{"Keys":{"PK":{"S":"T#1#CONV#C1"},"SK":{"S":"MSG#01"}}}}`
	template := `{"eventName":["INSERT"],"dynamodb":{"Keys":{"SK":{"S":[{"prefix":"MSG#"}]}}}}`
	tests := []struct {
		name, pattern, record string
		want                  bool
	}{
		{"template pattern takes a message insert", template, msgInsert, true},
		{"template pattern drops other inserts", template, convInsert, false},
		{"template pattern drops modifies", template, msgModify, false},
		{"anything-but", `{"eventName":[{"anything-but":["REMOVE"]}]}`, msgModify, true},
		{"anything-but refuses", `{"eventName":[{"anything-but":["MODIFY"]}]}`, msgModify, false},
		{"exists false", `{"userIdentity":[{"exists":false}]}`, msgInsert, true},
		{"exists true", `{"userIdentity":[{"exists":true}]}`, msgInsert, false},
		{"suffix", `{"dynamodb":{"Keys":{"SK":{"S":[{"suffix":"01"}]}}}}`, msgInsert, true},
		{"numeric", `{"dynamodb":{"NewImage":{"n":{"N":[{"numeric":[">",3,"<=",5]}]}}}}`, msgInsert, true},
		{"numeric out of range", `{"dynamodb":{"NewImage":{"n":{"N":[{"numeric":[">",5]}]}}}}`, msgInsert, false},
		{"missing field", `{"dynamodb":{"OldImage":{"n":{"N":["5"]}}}}`, msgInsert, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFilter(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			var rec map[string]any
			json.Unmarshal([]byte(tt.record), &rec)
			if got := f.Match(rec); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseFilter_RefusesWhatItCannotApply(t *testing.T) {
	for _, p := range []string{`not json`, `{"a":"scalar"}`, `{"a":[{"wildcard":"x*"}]}`} {
		if _, err := ParseFilter(p); err == nil {
			t.Errorf("ParseFilter(%s) accepted", p)
		}
	}
}
