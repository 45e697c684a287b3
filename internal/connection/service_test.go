package connection

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/secrets"
)

// TestSecretsNeverPrint: a connection's secrets printed by mistake, with
// fmt, JSON or slog, show [REDACTED].
func TestSecretsNeverPrint(t *testing.T) {
	sec := Secrets{"auth.password": secrets.NewValue("Planted-Secret-1"), "secrets.password": secrets.NewValue("Planted-Secret-2")}
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("oops", "secrets", sec)
	j, _ := json.Marshal(sec)
	for _, out := range []string{fmt.Sprint(sec), fmt.Sprintf("%v %+v %#v %s %q", sec, sec, sec, sec, sec), string(j), b.String()} {
		if strings.Contains(out, "Planted-Secret") {
			t.Fatalf("a secret printed: %s", out)
		}
	}
	if got := sec.reveal()["auth.password"]; got != "Planted-Secret-1" {
		t.Fatalf("reveal = %q", got)
	}
}

func str2(s string) *string { return &s }

// TestBuildMergesSecrets: a change replaces or clears the secrets it names
// and keeps the others; another auth type drops the old scheme's secrets.
func TestBuildMergesSecrets(t *testing.T) {
	s := &Service{}
	kind := Kinds["postgres"]
	settings := map[string]any{"host": "db", "database": "d", "user": "u"}
	_, _, sec, err := s.build(kind, Input{Settings: settings, Secrets: map[string]*string{"password": str2("one")}}, nil, nil, nil)
	if err != nil || sec.get("secrets.password") != "one" {
		t.Fatalf("create: %v %v", sec, err)
	}
	_, _, kept, err := s.build(kind, Input{}, settings, nil, sec)
	if err != nil || kept.get("secrets.password") != "one" {
		t.Fatalf("a change without secrets lost one: %v", err)
	}
	_, _, cleared, err := s.build(kind, Input{Secrets: map[string]*string{"password": nil}}, settings, nil, sec)
	if err != nil || len(cleared) != 0 {
		t.Fatalf("clearing: %v %v", len(cleared), err)
	}

	httpKind := Kinds["http"]
	hs := map[string]any{"base_url": "https://a.example"}
	_, auth, sec, err := s.build(httpKind, Input{Settings: hs, Auth: map[string]any{"type": "basic", "username": "u", "password": "p1"}}, nil, nil, nil)
	if err != nil || auth["username"] != "u" || auth["password"] != nil || sec.get("auth.password") != "p1" {
		t.Fatalf("basic: auth %v, err %v", auth, err)
	}
	_, auth, sec, err = s.build(httpKind, Input{Auth: map[string]any{"type": "bearer", "token": "t1"}}, hs, auth, sec)
	if err != nil || auth["username"] != nil || sec.get("auth.password") != "" || sec.get("auth.token") != "t1" {
		t.Fatalf("switch: auth %v, err %v", auth, err)
	}
	_, _, _, err = s.build(httpKind, Input{Auth: map[string]any{"token": 5}}, hs, auth, sec)
	if err == nil || !strings.Contains(err.Error(), "auth.token") {
		t.Fatalf("a non-string secret: %v", err)
	}
}
