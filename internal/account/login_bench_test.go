package account_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// BenchmarkFailedLogin measures a failed login for an unknown email beside
// one for a known email with a wrong password, at the production argon2id
// parameters. The two should cost the same: compare their ns/op (a ratio
// near 1). Throttles are raised out of the way; only the work is measured.
func BenchmarkFailedLogin(b *testing.B) {
	ctx := context.Background()
	st := storetest.Open(b, store.SQLite, store.Options{})
	svc := account.NewService(st, account.Config{AccountFailures: 1 << 30, IPFailures: 1 << 30})
	if _, err := svc.CreateUser(ctx, nil, account.NewUser{Email: "known@example.com", Password: "the right passphrase here"}, account.Client{}); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, email string }{
		{"unknown_email", "unknown@example.com"},
		{"wrong_password", "known@example.com"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				_, err := svc.Login(ctx, account.LoginRequest{Email: tc.email, Password: fmt.Sprintf("wrong guess %d!", i),
					Client: account.Client{IP: "127.0.0.1"}})
				if !errors.Is(err, account.ErrInvalidCredentials) {
					b.Fatalf("login: %v", err)
				}
			}
		})
	}
}
