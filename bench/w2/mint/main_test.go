package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestMint: each algorithm's token verifies with the key in its auth
// object, pins that algorithm, and expires after -ttl.
func TestMint(t *testing.T) {
	now := time.Now()
	for _, alg := range []string{"HS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			dir := t.TempDir()
			if err := run(alg, dir, time.Hour, now); err != nil {
				t.Fatal(err)
			}
			tok, err := os.ReadFile(filepath.Join(dir, "token-"+alg))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(dir, "auth-"+alg+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var auth struct {
				Type       string   `json:"type"`
				Algorithms []string `json:"algorithms"`
				Secret     string   `json:"secret"`
				PublicKey  string   `json:"public_key"`
			}
			if err := json.Unmarshal(raw, &auth); err != nil {
				t.Fatal(err)
			}
			if auth.Type != "jwt" || len(auth.Algorithms) != 1 || auth.Algorithms[0] != alg {
				t.Fatalf("auth object %s", raw)
			}
			keyFunc := func(*jwt.Token) (any, error) {
				if alg == "HS256" {
					if len(auth.Secret) < 32 || auth.PublicKey != "" {
						t.Fatalf("HS256 auth object %s", raw)
					}
					return []byte(auth.Secret), nil
				}
				block, _ := pem.Decode([]byte(auth.PublicKey))
				if block == nil || auth.Secret != "" {
					t.Fatalf("ES256 auth object %s", raw)
				}
				return x509.ParsePKIXPublicKey(block.Bytes)
			}
			claims := jwt.MapClaims{}
			if _, err := jwt.ParseWithClaims(string(tok), claims, keyFunc, jwt.WithValidMethods([]string{alg}),
				jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now })); err != nil {
				t.Fatalf("the token does not verify: %v", err)
			}
			exp, err := claims.GetExpirationTime()
			if err != nil || exp.Unix() != now.Add(time.Hour).Unix() {
				t.Errorf("exp %v (%v), want %v", exp, err, now.Add(time.Hour))
			}
		})
	}
}

// TestMintRefuses: an unknown algorithm or a lifetime of zero is refused
// and writes nothing.
func TestMintRefuses(t *testing.T) {
	for _, tc := range []struct {
		alg  string
		ttl  time.Duration
		want string
	}{{"RS256", time.Hour, "use HS256 or ES256"}, {"HS256", 0, "lifetime above zero"}} {
		dir := t.TempDir()
		err := run(tc.alg, dir, tc.ttl, time.Now())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%s, %s) = %v, want %q", tc.alg, tc.ttl, err, tc.want)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("run(%s, %s) wrote %d files", tc.alg, tc.ttl, len(ents))
		}
	}
}
