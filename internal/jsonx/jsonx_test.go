package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/big"
	"reflect"
	"testing"
)

// corpus holds values records are made of, with the corners where JSON
// libraries differ: big and decimal numbers, escapes, surrogates, invalid
// UTF-8, HTML characters, deep nesting, empty containers, duplicate keys.
var corpus = []string{
	`null`, `true`, `false`, `0`, `-0`, `12345678901234567890123`, `1.50`, `1e400`, `-2.5E-3`,
	`""`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\u20ac\ud83d\ude00"`, `"\ud800"`, "\"\xff\xfe\"", `"<a href='x'>&amp;</a>"`,
	"\"\u2028\u2029\"", `[]`, `{}`, `[1,[2,[3,[4,[5]]]]]`, `{"b":1,"a":2,"a":3}`,
	`{"id":123456,"customer":{"email":"someone@example.com"},"total":"1234.56","lines":[{"sku":"A","qty":2,"price":10.00}]}`,
	` { "spaced" : [ 1 , 2 ] } `,
}

func stdDecode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// TestSameAsEncodingJSON: Decode gives the values encoding/json gives,
// and Append the text json.Marshal writes, for every corpus entry.
func TestSameAsEncodingJSON(t *testing.T) {
	for _, c := range corpus {
		want, err := stdDecode([]byte(c))
		if err != nil {
			t.Fatalf("%q: encoding/json: %v", c, err)
		}
		got, err := Decode([]byte(c))
		if err != nil {
			t.Errorf("%q: Decode: %v", c, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: Decode = %#v, encoding/json = %#v", c, got, want)
		}
		wantText, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		gotText, err := Append([]byte("prefix:"), want)
		if err != nil || string(gotText) != "prefix:"+string(wantText) {
			t.Errorf("%q: Append = %s, %v; json.Marshal = %s", c, gotText, err, wantText)
		}
		var enc bytes.Buffer
		e := json.NewEncoder(&enc)
		e.SetEscapeHTML(false)
		if err := e.Encode(want); err != nil {
			t.Fatal(err)
		}
		gotText, err = AppendUnescaped([]byte("prefix:"), want)
		if err != nil || string(gotText)+"\n" != "prefix:"+enc.String() {
			t.Errorf("%q: AppendUnescaped = %s, %v; json.Encoder = %s", c, gotText, err, enc.String())
		}
	}
}

// TestDecodeRefuses: what is not exactly one JSON value is an error.
func TestDecodeRefuses(t *testing.T) {
	for _, c := range []string{``, `   `, `{`, `{"a":}`, `[1,]`, `{"a":1} {"b":2}`, `1 2`, `nul`, `"abc`, `<html>`, `{'a':1}`, `NaN`} {
		if v, err := Decode([]byte(c)); err == nil {
			t.Errorf("Decode(%q) = %#v, want an error", c, v)
		}
	}
}

// FuzzDecode: on any input, Decode and encoding/json agree on whether it
// is one JSON value and, when it is, on the value.
func FuzzDecode(f *testing.F) {
	for _, c := range corpus {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, werr := stdDecode(b)
		if werr == nil {
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			var v any
			_ = d.Decode(&v)
			if _, err := d.Token(); !errors.Is(err, io.EOF) {
				werr = ErrTrailing
			}
		}
		got, gerr := Decode(b)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: encoding/json error %v, Decode error %v", b, werr, gerr)
		}
		if werr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: Decode = %#v, encoding/json = %#v", b, got, want)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	rec := []byte(corpus[len(corpus)-2])
	for b.Loop() {
		if _, err := Decode(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSyntaxOffset: a syntax error says at which byte it is.
func TestSyntaxOffset(t *testing.T) {
	_, err := Decode([]byte(`{"a": [1, 2,]}`))
	if off, ok := SyntaxOffset(err); !ok || off < 10 || off > 13 {
		t.Errorf("offset %d, %v of %v", off, ok, err)
	}
}

// TestAppendGoValues: the values jq gives back (int, float64, *big.Int)
// are written as json.Marshal writes them, and what it refuses (NaN) is
// refused.
func TestAppendGoValues(t *testing.T) {
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	for _, v := range []any{0, -7, int64(1) << 62, 0.1, 1e21, 1e-7, -0.0, 3.0, float32(1.5), big1,
		map[string]any{"z": 1, "a": []any{1.5, "x<y>&", nil, true}}, []any{}, map[string]any{}} {
		want, werr := json.Marshal(v)
		got, gerr := Append(nil, v)
		if werr != nil || gerr != nil || string(got) != string(want) {
			t.Errorf("%#v: Append = %s, %v; json.Marshal = %s, %v", v, got, gerr, want, werr)
		}
	}
	for _, v := range []any{math.NaN(), math.Inf(1), map[string]any{"f": func() {}}} {
		if got, err := Append(nil, v); err == nil {
			t.Errorf("%#v: Append = %s, want an error", v, got)
		}
	}
}
