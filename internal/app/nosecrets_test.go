package app_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pquerna/otp/totp"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// TestNoSecretInLogs plants passwords, the setup token, session cookies,
// CSRF tokens, API keys, TOTP secrets and codes, recovery codes and the
// master key and invitation links in a full account journey (including mistakes: a password typed into the
// email field, bad Bearer tokens, secrets in query strings), then scans
// everything the server logged. None may appear. The database is scanned
// too: it may hold hashes of tokens, never the tokens.
func TestNoSecretInLogs(t *testing.T) {
	inst := apptest.Start(t, apptest.Options{})
	var planted []string
	plant := func(s string) string {
		if s == "" {
			t.Fatal("planted an empty secret")
		}
		planted = append(planted, s)
		return s
	}
	adminPW := plant("Root-Secret-Passphrase-7731")
	userPW := plant("Member-Secret-Passphrase-5519")
	newPW := plant("Changed-Secret-Passphrase-4410")
	setupToken := plant(inst.SetupToken(t))
	// The development master key the instance generated in its data
	// directory.
	keyFile, err := os.ReadFile(filepath.Join(filepath.Dir(inst.Where), secrets.DevKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	masterKey := strings.TrimSpace(string(keyFile))
	rawMaster, err := base64.StdEncoding.DecodeString(masterKey)
	if err != nil || len(rawMaster) != 32 {
		t.Fatalf("development master key file: %v", err)
	}

	admin := inst.Setup(t, "admin@example.com", adminPW)
	plant(admin.CSRF)
	plant(admin.Cookie(httpx.SessionCookieName(false)))
	inst.CreateUser(t, admin, "user@example.com", userPW, false)

	// Mistakes people make: the password in the email field, secrets in
	// the query string, a made-up Bearer token.
	anon := inst.NewClient()
	anon.Do(t, "POST", "/api/v1/auth/login", map[string]any{"email": userPW, "password": userPW})
	anon.Do(t, "POST", "/api/v1/auth/login", map[string]any{"email": "user@example.com", "password": plant("Wrong-Secret-Guess-2291")})
	anon.Do(t, "GET", "/api/v1/me?token="+setupToken+"&password="+userPW, nil)
	fake := inst.NewClient()
	fake.Bearer = plant("slk_NotARealKeyButLooksSecret000000000000000")
	fake.Do(t, "GET", "/api/v1/me", nil)

	user := inst.Login(t, "user@example.com", userPW)
	plant(user.CSRF)
	plant(user.Cookie(httpx.SessionCookieName(false)))
	keyClient, keyID := inst.APIKey(t, user, 30)
	plant(keyClient.Bearer)
	keyClient.Do(t, "GET", "/api/v1/me", nil)

	// Two-factor login: the secret, a code and recovery codes.
	r := user.Do(t, "POST", "/api/v1/me/totp", map[string]any{"password": userPW})
	secret := plant(r.String("secret"))
	code, err := totp.GenerateCode(secret, inst.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	r = user.Do(t, "POST", "/api/v1/me/totp/confirm", map[string]any{"code": code})
	if r.Status != 200 {
		t.Fatalf("confirm totp: %d %s", r.Status, r.Body)
	}
	var recovery []string
	for _, c := range r.Get("recovery_codes").([]any) {
		recovery = append(recovery, plant(c.(string)))
	}
	inst.Clock.Advance(31e9)
	code2, _ := totp.GenerateCode(secret, inst.Clock.Now())
	second := inst.NewClient()
	if r := second.Do(t, "POST", "/api/v1/auth/login", map[string]any{"email": "user@example.com", "password": userPW, "totp": code2}); r.Status != 200 {
		t.Fatalf("login with totp: %d %s", r.Status, r.Body)
	}
	plant(second.Cookie(httpx.SessionCookieName(false)))
	third := inst.NewClient()
	if r := third.Do(t, "POST", "/api/v1/auth/login", map[string]any{"email": "user@example.com", "password": userPW, "totp": recovery[0]}); r.Status != 200 {
		t.Fatalf("login with recovery code: %d %s", r.Status, r.Body)
	}
	plant(third.Cookie(httpx.SessionCookieName(false)))
	third.Do(t, "POST", "/api/v1/auth/login", map[string]any{"email": "user@example.com", "password": userPW, "totp": recovery[0]})

	// Invitations: the link's token, through the API and the console
	// (whose page takes it in the query string), used and then refused,
	// and the password the colleague chooses.
	r = admin.Do(t, "POST", "/api/v1/users", map[string]any{"email": "invited@example.com", "invite": true})
	if r.Status != 201 {
		t.Fatalf("invite: %d %s", r.Status, r.Body)
	}
	inviteURL := r.String("invite_url")
	_, inviteToken, ok := strings.Cut(inviteURL, "token=")
	if !ok {
		t.Fatalf("invite_url %q has no token", inviteURL)
	}
	plant(inviteToken)
	invitedPW := plant("Harbour-Secret-Passphrase-8810")
	anon.Do(t, "GET", "/invite?token="+inviteToken, nil)
	if r := anon.Do(t, "POST", "/api/v1/invitations/accept", map[string]any{"token": inviteToken, "password": invitedPW}); r.Status != 200 && r.Status != 201 {
		t.Fatalf("accept the invitation: %d %s", r.Status, r.Body)
	}
	anon.Do(t, "POST", "/api/v1/invitations/accept", map[string]any{"token": inviteToken, "password": invitedPW})
	anon.Do(t, "POST", "/api/v1/invitations/accept", map[string]any{"token": plant("made-up-invitation-token-0000000000000000000"), "password": invitedPW})

	user.Do(t, "POST", "/api/v1/me/password", map[string]any{"current_password": userPW, "new_password": newPW})
	user.Do(t, "DELETE", "/api/v1/me/api-keys/"+keyID, nil)
	// A crash path: an internal error must log its error without request
	// secrets either.
	user.Raw(t, "POST", "/api/v1/me/password", "application/json", []byte(`{"current_password": "`+newPW+`", "new_password": 5}`))

	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	logs := inst.Logs.String()
	if !strings.Contains(logs, "http request") {
		t.Fatalf("the server logged no requests; the scan would prove nothing:\n%s", logs)
	}
	for _, s := range planted {
		if strings.Contains(logs, s) {
			t.Errorf("secret %q... reached the log", s[:6])
		}
	}
	for _, c := range []string{code, code2} {
		if regexp.MustCompile(`(^|[^0-9A-Za-z])` + c + `([^0-9A-Za-z]|$)`).MatchString(logs) {
			t.Errorf("TOTP code %s reached the log", c)
		}
	}
	for _, h := range []string{"Authorization", "Bearer ", "Cookie", "X-Csrf-Token", "X-CSRF-Token"} {
		if strings.Contains(logs, h) {
			t.Errorf("header %q reached the log", h)
		}
	}
	// The setup link is printed on stdout once, by design; nothing else
	// secret is.
	out := strings.ReplaceAll(inst.Out.String(), setupToken, "")
	for _, s := range planted {
		if strings.Contains(out, s) {
			t.Errorf("secret %q... printed on stdout", s[:6])
		}
	}

	// The database holds hashes of sessions, keys, tokens and codes, never
	// the values, and no password in clear.
	var db []byte
	for _, f := range []string{"sluice.db", "sluice.db-wal"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(inst.Where), f))
		if err == nil {
			db = append(db, b...)
		}
	}
	if len(db) == 0 {
		t.Fatal("database file not found")
	}
	// The TOTP secret is stored too, sealed by the keyring: neither it nor
	// the master key that unlocks it may be in the database in clear.
	for _, s := range planted {
		if strings.Contains(string(db), s) {
			t.Errorf("secret %q... is stored in clear in the database", s[:6])
		}
	}
	if !strings.Contains(string(db), secrets.Prefix) {
		t.Error("no sealed value in the database: the TOTP secret was not stored, so the scan proves nothing")
	}
	for _, k := range []string{masterKey, base64.StdEncoding.EncodeToString(rawMaster), string(rawMaster)} {
		if strings.Contains(string(db), k) || strings.Contains(logs, k) || strings.Contains(inst.Out.String(), k) {
			t.Error("the master key is in the database, the log or the output")
		}
	}
}
