package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/itchyny/gojq"
)

const canary = "CNRY-5e1f2a9b7c"

// canaryRecord is a source record whose values are canaries.
func canaryRecord() map[string]any {
	return map[string]any{
		"id":    "r1",
		"email": canary + "@example.com",
		"name":  canary,
		"n":     json.Number("9876543"),
		"f":     float64(4242.5),
		"tags":  []any{canary + "-tag"},
		"long":  strings.Repeat("x", 20) + canary + strings.Repeat("y", 40),
		"inner": map[string]any{"secret": canary + "-inner"},
	}
}

func TestFailureErrorJQ(t *testing.T) {
	rec := canaryRecord()
	for _, tc := range []struct {
		name, expr string
		want       []string // all must appear in the stored error
	}{
		{"iterate string", ".name[]", []string{"cannot iterate over: string"}},
		{"iterate long string", ".long[]", []string{"cannot iterate over: string"}},
		{"expected object", ".tags[0].x", []string{"expected an object but got: string"}},
		{"object key", "{(.n): 1}", []string{"expected a string for object key but got: number"}},
		{"binop", ".name - .n", []string{"cannot subtract: string and number"}},
		{"binop objects", ".inner - .tags", []string{"cannot subtract: object and array"}},
		{"divide by zero", ".n / 0", []string{"cannot divide number by: number"}},
		{"func0", ".name | keys", []string{"keys cannot be applied to: string"}},
		{"func1 args", ".n | ltrimstr(.name)", nil},
		{"func1 type", ".inner | test(.name)", []string{"test(…) cannot be applied to: object"}},
		{"wrap", ".name | fromjson", []string{"fromjson cannot be applied to a value"}},
		{"index too large", "[] | .[.n]", nil},
		{"repeat", ".long * 1e9", []string{"repeat string result too large"}},
		{"error string", "error(.name)", []string{"[value]"}},
		{"error object", "error({email: .email, why: \"bad email\"})", []string{"bad email", `"email"`}},
		{"error built", `error("no customer for " + .email)`, []string{"no customer for [value]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := gojq.Parse(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			code, err := gojq.Compile(q)
			if err != nil {
				t.Fatal(err)
			}
			_, jerr := jqValues(context.Background(), code, rec, 1)
			if jerr == nil {
				t.Skipf("%s gave no error", tc.expr)
			}
			got := failureError(jerr, rec)
			t.Logf("before: %s\nafter:  %s", jerr, got)
			if strings.Contains(got, "CNRY") || strings.Contains(got, "987") || strings.Contains(got, "4242") {
				t.Errorf("stored error quotes a value: %s", got)
			}
			if !strings.HasPrefix(got, "jq: ") {
				t.Errorf("stored error %q lost its kind", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("stored error %q does not say %q", got, w)
				}
			}
		})
	}
}

func TestFailureErrorDestinations(t *testing.T) {
	rec := canaryRecord()
	long := rec["long"].(string)
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"fail step", errors.New("customer " + canary + " has no email"), []string{"customer [value] has no email"}},
		{"fail step json", errors.New(`{"email":"` + canary + `@example.com"}`), []string{`{"email":"[value]"}`}},
		{"pg detail in message", errors.New(`sql: t refused the row: duplicate key value violates unique constraint "t_email_key": Key (email)=(` + canary + `@example.com) already exists.`), []string{"t_email_key", "Key (email)=([value])"}},
		{"mysql duplicate", errors.New(`sql: t refused the row: Error 1062: Duplicate entry '` + canary + `@example.com' for key 'email'`), []string{"Duplicate entry '[value]' for key 'email'"}},
		{"http echo", fmt.Errorf("POST /customers answered 400 Bad Request: {\"errors\":{\"email\":\"%s@example.com is taken\"},\"n\":9876543}", canary), []string{"400 Bad Request", `"email"`, "is taken"}},
		{"http cut excerpt", errors.New("POST /c answered 422 Unprocessable Entity: {\"long\":\"" + long[:40] + "…"), []string{"422", `{"long":"[value]…`}},
		{"number", errors.New("amount 4242.5 over limit"), []string{"amount [value] over limit"}},
		{"wrapped retries", retried(errors.New("refused "+canary), 3), []string{"refused [value] (after 2 retries)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := failureError(tc.err, rec)
			t.Logf("before: %s\nafter:  %s", tc.err, got)
			if strings.Contains(got, "CNRY") || strings.Contains(got, "9876543") || strings.Contains(got, "4242") {
				t.Errorf("stored error quotes a value: %s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("stored error %q does not say %q", got, w)
				}
			}
		})
	}
}

func TestScrubKeepsShortAndNames(t *testing.T) {
	rec := map[string]any{"id": "ab", "email": "x@y.z", "n": float64(42), "kind": "obj", "code": "ABC123456"}
	got := scrub(`field "email" of id ab: 42 is too small, x@y.z invalid; expected an object, kind obj; idABC123456`, rec)
	want := `field "email" of id ab: 42 is too small, [value] invalid; expected an object, kind [value]; id[value]`
	if got != want {
		t.Errorf("scrub = %q, want %q", got, want)
	}
}

func TestScrubErrorWholeWrite(t *testing.T) {
	base := errors.New("batch refused: " + canary + " and CNRY-other")
	err := scrubError(base, map[string]any{"a": canary}, map[string]any{"a": "CNRY-other"})
	if strings.Contains(err.Error(), "CNRY") {
		t.Errorf("scrubError = %q", err)
	}
	if !errors.Is(err, base) {
		t.Error("scrubError does not unwrap to the original error")
	}
}

func TestScrubTailOnlyWhenCut(t *testing.T) {
	rec := map[string]any{"total": float64(1000), "name": "CNRY-abcdef"}
	for _, tc := range []struct{ in, want string }{
		{"total over 100", "total over 100"},
		{"answered 400: {\"name\":\"CNRY-ab…", "answered 400: {\"name\":\"[value]…"},
		{"answered 400: {\"name\":\"CNRY-ab...", "answered 400: {\"name\":\"[value]..."},
	} {
		if got := scrub(tc.in, rec); got != tc.want {
			t.Errorf("scrub(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
