package consumer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// python finds a Python with PyJWT (Debian's python3-jwt): the system one
// first. Without it the test skips locally and fails under CI=true.
func python(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import jwt, cryptography").Run() == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("python3-jwt is missing: .ci/run installs it (apt-get install python3-jwt)")
	}
	t.Skip("python3-jwt is not installed (apt-get install python3-jwt); CI runs this test")
	return ""
}

func privPEM(t *testing.T, k any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// TestPyJWTTokens: tokens minted by an independent library, PyJWT, for
// every pinned algorithm verify; the same library's tokens that break a
// rule (expired, wrong audience, no exp, nbf in the future) are refused.
func TestPyJWTTokens(t *testing.T) {
	py := python(t)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	hs := strings.Repeat("q", 64)
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		// PyJWT reads the real clock: run the verifier on it too.
		f.now = time.Now().UTC()
		f.v.Now = nil
		type consumerKey struct {
			name string
			algs []any
			auth map[string]any
			priv string
		}
		keys := []consumerKey{
			{"hs", []any{"HS256", "HS384", "HS512"}, map[string]any{"secret": hs}, hs},
			{"rsa", []any{"RS256", "RS384", "RS512", "PS256"}, map[string]any{"public_key": pemOf(t, &rsaKey.PublicKey)}, privPEM(t, rsaKey)},
			{"es256", []any{"ES256"}, map[string]any{"public_key": pemOf(t, &ec256.PublicKey)}, privPEM(t, ec256)},
			{"es384", []any{"ES384"}, map[string]any{"public_key": pemOf(t, &ec384.PublicKey)}, privPEM(t, ec384)},
			{"ed", []any{"EdDSA"}, map[string]any{"public_key": pemOf(t, edKey.Public())}, privPEM(t, edKey)},
		}
		type spec struct {
			Alg     string         `json:"alg"`
			Key     string         `json:"key"`
			Claims  map[string]any `json:"claims"`
			Headers map[string]any `json:"headers,omitempty"`
		}
		var specs []spec
		var want []string
		now := time.Now().Unix()
		ok := map[string]any{"exp": now + 300, "iat": now, "aud": "sluice", "iss": "peer"}
		for _, k := range keys {
			a := map[string]any{"type": "jwt", "algorithms": k.algs, "audience": "sluice", "issuer": "peer"}
			for kk, v := range k.auth {
				a[kk] = v
			}
			f.create(t, k.name, a)
			for _, alg := range k.algs {
				specs = append(specs, spec{Alg: alg.(string), Key: k.priv, Claims: ok, Headers: map[string]any{"kid": k.name}})
				want = append(want, k.name)
			}
		}
		bad := []spec{
			{Alg: "RS256", Key: keys[1].priv, Claims: map[string]any{"exp": now - 120, "aud": "sluice", "iss": "peer"}},
			{Alg: "ES256", Key: keys[2].priv, Claims: map[string]any{"exp": now + 300, "aud": "other", "iss": "peer"}},
			{Alg: "ES256", Key: keys[2].priv, Claims: map[string]any{"aud": "sluice", "iss": "peer"}},
			{Alg: "PS256", Key: keys[1].priv, Claims: map[string]any{"exp": now + 300, "aud": "sluice", "iss": "peer", "nbf": now + 600}},
		}
		in, _ := json.Marshal(append(specs, bad...))
		cmd := exec.Command(py, "testdata/mint.py")
		cmd.Stdin = bytes.NewReader(in)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("mint.py: %v: %s", err, stderr.String())
		}
		var tokens []string
		if err := json.Unmarshal(out, &tokens); err != nil || len(tokens) != len(specs)+len(bad) {
			t.Fatalf("mint.py answered %q: %v", out, err)
		}
		for i, s := range specs {
			c, err := f.call(bearer(tokens[i]), "")
			if err != nil || c.Row.Name != want[i] {
				t.Errorf("PyJWT %s token: %v", s.Alg, err)
			}
		}
		for i := range bad {
			_, err := f.callFlow(f.flow, "10.9.9."+string(rune('1'+i))+":1", bearer(tokens[len(specs)+i]), "")
			refused(t, err, 401)
		}
	})
}
