package secrets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"testing"
)

const planted = "hunter2-Planted-Secret-9981"

func TestValueNeverPrints(t *testing.T) {
	v := NewValue(planted)
	type holder struct {
		Name   string
		Secret Value
		Ptr    *Value
	}
	h := holder{Name: "n", Secret: v, Ptr: &v}
	cases := map[string]string{
		"%v":        fmt.Sprintf("%v", v),
		"%s":        fmt.Sprintf("%s", v),
		"%q":        fmt.Sprintf("%q", v),
		"%#v":       fmt.Sprintf("%#v", v),
		"%+v":       fmt.Sprintf("%+v", v),
		"%x":        fmt.Sprintf("%x", v),
		"%X":        fmt.Sprintf("%X", v),
		"%d":        fmt.Sprintf("%d", v),
		"%10s":      fmt.Sprintf("%10s", v),
		"Sprint":    fmt.Sprint(v),
		"Sprintln":  fmt.Sprintln(v),
		"String":    v.String(),
		"GoString":  v.GoString(),
		"ptr %v":    fmt.Sprintf("%v", &v),
		"ptr %s":    fmt.Sprintf("%s", &v),
		"struct %v": fmt.Sprintf("%v", h),
		"struct +v": fmt.Sprintf("%+v", h),
		"struct #v": fmt.Sprintf("%#v", h),
		"slice":     fmt.Sprintf("%v", []Value{v, v}),
		"map":       fmt.Sprintf("%v", map[string]Value{"k": v}),
		"error":     fmt.Errorf("wrapped: %v", v).Error(),
	}
	for name, got := range cases {
		if strings.Contains(got, planted) || strings.Contains(got, fmt.Sprintf("%x", planted)) || strings.Contains(got, fmt.Sprintf("%X", planted)) {
			t.Errorf("%s prints the secret: %s", name, got)
		}
		if !strings.Contains(got, Redacted) {
			t.Errorf("%s = %q, want it to say %s", name, got, Redacted)
		}
	}
	if got := fmt.Sprintf("%q", v); got != `"[REDACTED]"` {
		t.Errorf("%%q = %s", got)
	}
	if v.Reveal() != planted {
		t.Fatal("Reveal does not return the secret")
	}
}

func TestValueJSON(t *testing.T) {
	v := NewValue(planted)
	b, err := json.Marshal(map[string]any{"token": v, "ptr": &v, "nested": struct{ S Value }{v}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), planted) || strings.Count(string(b), `"[REDACTED]"`) != 3 {
		t.Fatalf("JSON: %s", b)
	}
	txt, _ := v.MarshalText()
	if string(txt) != Redacted {
		t.Fatalf("MarshalText: %s", txt)
	}

	// A request body decodes into a Value.
	var in struct {
		Password Value  `json:"password"`
		Missing  Value  `json:"missing"`
		Null     Value  `json:"null"`
		Other    string `json:"other"`
	}
	if err := json.Unmarshal([]byte(`{"password": "`+planted+`", "null": null, "other": "x"}`), &in); err != nil {
		t.Fatal(err)
	}
	if in.Password.Reveal() != planted || !in.Missing.IsZero() || !in.Null.IsZero() || in.Other != "x" {
		t.Fatalf("decoded %q, missing zero %v, null zero %v", in.Password.Reveal(), in.Missing.IsZero(), in.Null.IsZero())
	}
	// A number where a secret belongs is an error that does not echo it.
	err = json.Unmarshal([]byte(`{"password": 98765432123}`), &in)
	if err == nil || strings.Contains(err.Error(), "98765432123") {
		t.Fatalf("non-string secret: %v", err)
	}
	if NewValue("").IsZero() != true || v.IsZero() {
		t.Fatal("IsZero is wrong")
	}
}

func TestValueSlog(t *testing.T) {
	v := NewValue(planted)
	var buf bytes.Buffer
	handlers := map[string]slog.Handler{
		"json": slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
		"text": slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
	}
	for name, h := range handlers {
		buf.Reset()
		l := slog.New(h)
		l.Info("login", "password", v, "ptr", &v, "any", any(v), slog.Any("attr", v), slog.Group("g", "inner", v))
		l.With("bound", v).Warn("bound attribute")
		l.Error("failed", "err", fmt.Errorf("with %v", v))
		out := buf.String()
		if strings.Contains(out, planted) {
			t.Errorf("%s handler logged the secret: %s", name, out)
		}
		if strings.Count(out, Redacted) < 7 {
			t.Errorf("%s handler: want [REDACTED] for every attribute, got %s", name, out)
		}
	}
	// The standard logger, through fmt.
	buf.Reset()
	std := log.New(&buf, "", 0)
	std.Printf("token=%v %s", v, v)
	if strings.Contains(buf.String(), planted) {
		t.Errorf("log.Printf printed the secret: %s", buf.String())
	}
}

func TestMasterKeyNeverPrints(t *testing.T) {
	k, err := ParseMasterKey(strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("key", "k", k)
	b, _ := json.Marshal(k)
	for _, s := range []string{fmt.Sprintf("%v", k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), fmt.Sprintf("%x", k), fmt.Sprintf("%s", k), string(b), buf.String()} {
		if strings.Contains(s, "abab") || strings.Contains(s, "\xab\xab") || strings.Contains(strings.ToLower(s), "171, 171") {
			t.Errorf("the master key is printed: %q", s)
		}
	}
	if !errors.Is(wrapDecrypt("x"), ErrDecrypt) {
		t.Fatal("decrypt errors are not ErrDecrypt")
	}
}
