// Command mint makes the JWT that bench/w2/run.sh sends to
// POST /call/{project}/{flow}, and the auth object of the consumer that
// accepts it.
//
//	mint -alg HS256 -dir DIR
//	mint -alg ES256 -dir DIR
//
// For HS256 it draws a 256-bit secret; for ES256 it generates a P-256 key
// pair. Either way it writes DIR/token-ALG (the token, with "exp" an hour
// ahead unless -ttl says otherwise) and DIR/auth-ALG.json (the consumer's
// "auth" object: the HS secret, or the PEM public key). The private key
// and the secret exist only in this process and in those files, which the
// script removes with its temporary directory.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func main() {
	alg := flag.String("alg", "HS256", "token algorithm: HS256 or ES256")
	dir := flag.String("dir", ".", "directory to write token-ALG and auth-ALG.json into")
	ttl := flag.Duration("ttl", time.Hour, "lifetime of the token (its exp claim)")
	flag.Parse()
	if err := run(*alg, *dir, *ttl, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "mint:", err)
		os.Exit(1)
	}
}

func run(alg, dir string, ttl time.Duration, now time.Time) error {
	if ttl <= 0 {
		return fmt.Errorf("-ttl %s: the token needs a lifetime above zero", ttl)
	}
	claims := jwt.MapClaims{
		"sub": "w2-bench",
		"iat": now.Unix(),
		"exp": now.Add(ttl).Unix(),
	}
	var (
		token string
		auth  map[string]any
		err   error
	)
	switch alg {
	case "HS256":
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return err
		}
		// Hex keeps the secret printable in JSON; 64 bytes of it are the key.
		key := hex.EncodeToString(secret)
		token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
		if err != nil {
			return err
		}
		auth = map[string]any{"type": "jwt", "algorithms": []string{"HS256"}, "secret": key}
	case "ES256":
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		if err != nil {
			return err
		}
		pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		token, err = jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(priv)
		if err != nil {
			return err
		}
		auth = map[string]any{"type": "jwt", "algorithms": []string{"ES256"}, "public_key": string(pub)}
	default:
		return fmt.Errorf("-alg %q: use HS256 or ES256", alg)
	}
	b, err := json.Marshal(auth)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "token-"+alg), []byte(token), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "auth-"+alg+".json"), b, 0o600); err != nil {
		return err
	}
	return nil
}
