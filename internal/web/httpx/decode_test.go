package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

type decodeTarget struct {
	Name  string   `json:"name"`
	Count int      `json:"count"`
	Tags  []string `json:"tags"`
	Inner struct {
		Enabled bool `json:"enabled"`
	} `json:"inner"`
	Any any `json:"any"`
}

func TestDecodeJSON(t *testing.T) {
	deep := func(n int) string { return `{"any":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}` }
	tests := []struct {
		name        string
		contentType string
		body        string
		limit       int64 // 0 means DecodeJSON's default
		wantStatus  int   // 0 means success
		wantCode    string
		wantMsg     []string // substrings of the message
		wantField   string   // Details[0].Field when set
	}{
		{name: "valid", contentType: "application/json", body: `{"name":"a","count":2,"tags":["x"],"inner":{"enabled":true}}`},
		{name: "charset param allowed", contentType: "application/json; charset=utf-8", body: `{"name":"a"}`},
		{name: "surrounding whitespace allowed", contentType: "application/json", body: " \n{\"name\":\"a\"}\n "},
		{name: "depth at limit allowed", contentType: "application/json", body: deep(MaxJSONDepth - 1)},
		{name: "missing content type", contentType: "", body: `{}`, wantStatus: 415, wantCode: "unsupported_media_type", wantMsg: []string{"application/json"}},
		{name: "wrong content type", contentType: "text/plain", body: `{}`, wantStatus: 415, wantCode: "unsupported_media_type", wantMsg: []string{`"text/plain"`}},
		{name: "form content type", contentType: "application/x-www-form-urlencoded", body: `name=a`, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "non utf-8 charset", contentType: "application/json; charset=latin1", body: `{}`, wantStatus: 415, wantCode: "unsupported_media_type", wantMsg: []string{"UTF-8"}},
		{name: "too large", contentType: "application/json", body: `{"name":"` + strings.Repeat("a", 100) + `"}`, limit: 50,
			wantStatus: 413, wantCode: "body_too_large", wantMsg: []string{"50-byte"}},
		{name: "too large default", contentType: "application/json", body: `{"name":"` + strings.Repeat("a", int(MaxBodyBytes)) + `"}`,
			wantStatus: 413, wantCode: "body_too_large"},
		{name: "too deep", contentType: "application/json", body: deep(MaxJSONDepth + 5), wantStatus: 400, wantCode: "json_too_deep", wantMsg: []string{"32 levels", "byte"}},
		{name: "too deep and unterminated", contentType: "application/json", body: strings.Repeat("[", 10000), wantStatus: 400, wantCode: "json_too_deep"},
		{name: "unknown field", contentType: "application/json", body: `{"name":"a","pasword":"x"}`, wantStatus: 400, wantCode: "unknown_field",
			wantMsg: []string{`"pasword"`, "spelling"}, wantField: "pasword"},
		{name: "malformed", contentType: "application/json", body: `{"name":"a",}`, wantStatus: 400, wantCode: "malformed_json", wantMsg: []string{"byte 12"}},
		{name: "unterminated", contentType: "application/json", body: `{"name":"a"`, wantStatus: 400, wantCode: "malformed_json", wantMsg: []string{"byte 11"}},
		{name: "unterminated string", contentType: "application/json", body: `{"name":"a`, wantStatus: 400, wantCode: "malformed_json", wantMsg: []string{"byte 10"}},
		{name: "wrong type", contentType: "application/json", body: `{"count":"two"}`, wantStatus: 400, wantCode: "invalid_field",
			wantMsg: []string{`"count"`, "whole number", "string"}, wantField: "count"},
		{name: "wrong nested type", contentType: "application/json", body: `{"inner":{"enabled":"yes"}}`, wantStatus: 400, wantCode: "invalid_field",
			wantMsg: []string{`"inner.enabled"`, "true or false"}, wantField: "inner.enabled"},
		{name: "wrong element type", contentType: "application/json", body: `{"tags":[1]}`, wantStatus: 400, wantCode: "invalid_field",
			wantMsg: []string{`"tags"`, "a string"}, wantField: "tags"},
		{name: "array instead of object", contentType: "application/json", body: `[]`, wantStatus: 400, wantCode: "invalid_field", wantMsg: []string{"an object", "an array"}},
		{name: "empty", contentType: "application/json", body: ``, wantStatus: 400, wantCode: "empty_body"},
		{name: "whitespace only", contentType: "application/json", body: " \n\t", wantStatus: 400, wantCode: "empty_body"},
		{name: "trailing object", contentType: "application/json", body: `{"name":"a"} {"name":"b"}`, wantStatus: 400, wantCode: "malformed_json", wantMsg: []string{"after the JSON value", "byte 13"}},
		{name: "trailing garbage", contentType: "application/json", body: `{"name":"a"}x`, wantStatus: 400, wantCode: "malformed_json", wantMsg: []string{"after the JSON value", "byte 12"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/v1/x", strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			w := httptest.NewRecorder()
			var dst decodeTarget
			var err error
			if tt.limit > 0 {
				err = DecodeJSONLimit(w, r, &dst, tt.limit)
			} else {
				err = DecodeJSON(w, r, &dst)
			}
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %#v, want *Error", err)
			}
			if e.Status != tt.wantStatus || e.Code != tt.wantCode {
				t.Fatalf("got %d %s (%s), want %d %s", e.Status, e.Code, e.Message, tt.wantStatus, tt.wantCode)
			}
			for _, s := range tt.wantMsg {
				if !strings.Contains(e.Message, s) {
					t.Errorf("message %q lacks %q", e.Message, s)
				}
			}
			if tt.wantField != "" && (len(e.Details) == 0 || e.Details[0].Field != tt.wantField) {
				t.Errorf("details = %v, want field %q", e.Details, tt.wantField)
			}
		})
	}
}

func TestDecodeJSONValues(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"name":"a","count":2,"tags":["x","y"],"inner":{"enabled":true}}`))
	r.Header.Set("Content-Type", "application/json")
	var dst decodeTarget
	if err := DecodeJSON(httptest.NewRecorder(), r, &dst); err != nil {
		t.Fatal(err)
	}
	if dst.Name != "a" || dst.Count != 2 || len(dst.Tags) != 2 || !dst.Inner.Enabled {
		t.Fatalf("decoded %+v", dst)
	}
}

func TestDecodeJSONBadDestinationIsABug(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{}`))
	r.Header.Set("Content-Type", "application/json")
	var dst decodeTarget
	err := DecodeJSON(httptest.NewRecorder(), r, dst) // not a pointer
	var e *Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("err = %v, want a plain error that WriteError turns into a 500", err)
	}
}

// MaxBody further out sets the tighter cap; DecodeJSON must report it as 413.
func TestDecodeJSONBehindMaxBody(t *testing.T) {
	h := MaxBody(8)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var dst decodeTarget
		if err := DecodeJSON(w, r, &dst); err != nil {
			WriteError(w, r, err)
		}
	}))
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"name":"longer than eight"}`))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "8-byte") {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
}

// parseJSONTokens is ParseJSON as it was before the jsonx fast path: the
// token-by-token scan, then encoding/json. ParseJSON must agree with it.
func parseJSONTokens(body []byte) (any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return ParseJSON(body)
	}
	if e := scanJSON(body, MaxJSONDepth); e != nil {
		return nil, e
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, decodeError(err)
	}
	return v, nil
}

func sameParse(t *testing.T, body []byte) {
	t.Helper()
	got, gerr := ParseJSON(body)
	want, werr := parseJSONTokens(body)
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("ParseJSON(%.80q): error %v, want %v", body, gerr, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseJSON(%.80q) = %#v, want %#v", body, got, want)
	}
}

func TestParseJSONSameAsTokenScan(t *testing.T) {
	deep := func(n int, open, close string) []byte {
		return []byte(strings.Repeat(open, n) + strings.Repeat(close, n))
	}
	bodies := [][]byte{
		[]byte(`{"order_no":"SO-1","lines":[{"qty":1.5e3},{"qty":-0}],"ok":true,"none":null}`),
		[]byte(`[{"a":"]]]]}}}{{{[[[\"\\"}, {"b":"\u00e9\ud83d\ude00"}]`),
		[]byte(`{"big":123456789012345678901234567890, "s":"<&>"}`),
		[]byte(" \n {\"a\":1} \t"),
		[]byte(`{"a":1} {"b":2}`),
		[]byte(`{"a":1}]`),
		[]byte(`{"a":`),
		[]byte(`{"a" 1}`),
		[]byte(`{"a":"\x"}`),
		[]byte("{\"a\":\"\xff\"}"),
		[]byte(`nul`),
		[]byte(`"just a string"`),
		[]byte(`   `),
		deep(MaxJSONDepth, "[", "]"),
		deep(MaxJSONDepth+1, "[", "]"),
		deep(MaxJSONDepth+1, `{"a":`, "}"),
		append([]byte(`["`+strings.Repeat("[", 5000)+`"`), deep(3, "[", "]")[1:]...),
	}
	for _, b := range bodies {
		sameParse(t, b)
	}
	// Brackets inside strings do not count towards the depth.
	if _, err := ParseJSON([]byte(`{"a":"` + strings.Repeat("{[", 1000) + `"}`)); err != nil {
		t.Fatalf("brackets in a string counted as nesting: %v", err)
	}
	var e *Error
	if _, err := ParseJSON(deep(MaxJSONDepth+1, "[", "]")); !errors.As(err, &e) || e.Code != "json_too_deep" {
		t.Fatalf("too deep: %v", err)
	}
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":"]"}]}`, `[[["\""]]]`, `{"a":1}x`, `1e999`, `{"a":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { sameParse(t, body) })
}
