package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

func newUser(t *testing.T, q *store.Q, email string) *store.User {
	t.Helper()
	u := &store.User{Email: email, Name: "N", PasswordHash: "$argon2id$x"}
	if err := q.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

func TestMigrateIsIdempotentAndVersioned(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		applied, err := st.Migrate(ctx)
		if err != nil || len(applied) != 0 {
			t.Fatalf("second migrate applied %v, err %v; want nothing", applied, err)
		}
		v, err := st.SchemaVersion(ctx)
		if err != nil || v != store.LatestVersion(st.Dialect()) || v < 1 {
			t.Fatalf("schema version %d (err %v), want %d", v, err, store.LatestVersion(st.Dialect()))
		}
	})
}

func TestSchemaNewerThanBinaryIsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		future := store.LatestVersion(st.Dialect()) + 1
		if _, err := st.WriteDB().ExecContext(ctx, `INSERT INTO sluice_schema_migrations (version, name, applied_at) VALUES ($1, 'future', $2)`, future, time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		_, err := st.CheckSchema(ctx)
		if !errors.Is(err, store.ErrSchemaTooNew) {
			t.Fatalf("CheckSchema = %v, want ErrSchemaTooNew", err)
		}
		if _, err := st.Migrate(ctx); !errors.Is(err, store.ErrSchemaTooNew) {
			t.Fatalf("Migrate = %v, want ErrSchemaTooNew", err)
		}
	})
}

func TestUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		u := newUser(t, w, "a@example.com")
		if err := w.CreateUser(ctx, &store.User{Email: "a@example.com", PasswordHash: "x"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate email: %v, want ErrConflict", err)
		}
		got, err := st.Reader().UserByEmail(ctx, "a@example.com")
		if err != nil || got.ID != u.ID || got.Admin || got.Disabled || !got.CreatedAt.Equal(u.CreatedAt) {
			t.Fatalf("UserByEmail = %+v, %v; want %+v", got, err, u)
		}
		if _, err := st.Reader().UserByID(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing user: %v", err)
		}
		if err := w.SetUserDisabled(ctx, u.ID, true); err != nil {
			t.Fatal(err)
		}
		if err := w.SetUserDisabled(ctx, "nope", true); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("disable missing user: %v", err)
		}
		if err := w.SetPasswordHash(ctx, u.ID, "new", true); err != nil {
			t.Fatal(err)
		}
		got, _ = st.Reader().UserByID(ctx, u.ID)
		if !got.Disabled || got.PasswordHash != "new" {
			t.Fatalf("after updates: %+v", got)
		}
		n, err := st.Reader().CountUsers(ctx)
		if err != nil || n != 1 {
			t.Fatalf("CountUsers = %d, %v", n, err)
		}
	})
}

func TestTOTPStepIsSingleUse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		u := newUser(t, w, "t@example.com")
		if err := w.EnableTOTP(ctx, u.ID, "SECRET", 0, 100); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			step int64
			want bool
		}{{100, false}, {99, false}, {101, true}, {101, false}, {105, true}} {
			ok, err := w.UseTOTPStep(ctx, u.ID, tc.step)
			if err != nil || ok != tc.want {
				t.Fatalf("UseTOTPStep(%d) = %v, %v; want %v", tc.step, ok, err, tc.want)
			}
		}
		if err := w.ReplaceRecoveryCodes(ctx, u.ID, []string{"h1", "h2"}); err != nil {
			t.Fatal(err)
		}
		if ok, _ := w.UseRecoveryCode(ctx, u.ID, "h1"); !ok {
			t.Fatal("first use of a recovery code refused")
		}
		if ok, _ := w.UseRecoveryCode(ctx, u.ID, "h1"); ok {
			t.Fatal("second use of a recovery code accepted")
		}
		if n, _ := w.CountRecoveryCodes(ctx, u.ID); n != 1 {
			t.Fatalf("unused codes = %d, want 1", n)
		}
		if err := w.DisableTOTP(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if n, _ := w.CountRecoveryCodes(ctx, u.ID); n != 0 {
			t.Fatalf("codes after disabling 2FA = %d, want 0", n)
		}
	})
}

func TestSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		u := newUser(t, w, "s@example.com")
		other := newUser(t, w, "o@example.com")
		now := st.Now()
		mk := func(hash string, idle, abs time.Duration) *store.Session {
			s := &store.Session{TokenHash: hash, UserID: u.ID, CreatedAt: now, LastSeenAt: now,
				IdleExpiresAt: now.Add(idle), AbsoluteExpiresAt: now.Add(abs), IP: "127.0.0.1", UserAgent: "test"}
			if err := w.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
			return s
		}
		a := mk("ha", time.Hour, 2*time.Hour)
		b := mk("hb", time.Hour, 2*time.Hour)
		mk("expired", -time.Minute, time.Hour)
		got, gotUser, err := st.Reader().SessionWithUser(ctx, "ha")
		if err != nil || got.ID != a.ID || !got.IdleExpiresAt.Equal(a.IdleExpiresAt) || gotUser.ID != u.ID || gotUser.Email != u.Email {
			t.Fatalf("SessionWithUser = %+v, %+v, %v", got, gotUser, err)
		}
		list, err := st.Reader().ListSessions(ctx, u.ID)
		if err != nil || len(list) != 2 {
			t.Fatalf("ListSessions = %d sessions, %v; want 2 unexpired", len(list), err)
		}
		// Touching slides idle expiry but never past absolute expiry.
		if err := w.TouchSession(ctx, a.ID, now.Add(time.Minute), now.Add(5*time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, _, _ = st.Reader().SessionWithUser(ctx, "ha")
		if !got.IdleExpiresAt.Equal(a.AbsoluteExpiresAt) {
			t.Fatalf("idle expiry %v, want capped at %v", got.IdleExpiresAt, a.AbsoluteExpiresAt)
		}
		if err := w.DeleteSession(ctx, other.ID, a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another user deleted a session: %v", err)
		}
		n, err := w.DeleteExpiredSessions(ctx)
		if err != nil || n != 1 {
			t.Fatalf("DeleteExpiredSessions = %d, %v; want 1", n, err)
		}
		n, err = w.DeleteUserSessions(ctx, u.ID, b.ID)
		if err != nil || n != 1 {
			t.Fatalf("DeleteUserSessions kept %s: ended %d, %v; want 1", b.ID, n, err)
		}
		if _, _, err := st.Reader().SessionWithUser(ctx, "hb"); err != nil {
			t.Fatalf("kept session is gone: %v", err)
		}
	})
}

func TestAPIKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		u := newUser(t, w, "k@example.com")
		other := newUser(t, w, "x@example.com")
		exp := st.Now().Add(24 * time.Hour)
		k := &store.APIKey{UserID: u.ID, Name: "ci", TokenHash: "kh", Prefix: "slk_abcd", ExpiresAt: &exp}
		if err := w.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		never := &store.APIKey{UserID: u.ID, Name: "forever", TokenHash: "kh2", Prefix: "slk_efgh"}
		if err := w.CreateAPIKey(ctx, never); err != nil {
			t.Fatal(err)
		}
		got, gotUser, err := st.Reader().APIKeyWithUser(ctx, "kh")
		if err != nil || got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) || got.LastUsedAt != nil || gotUser.ID != u.ID {
			t.Fatalf("APIKeyWithUser = %+v, %+v, %v", got, gotUser, err)
		}
		if err := w.TouchAPIKey(ctx, k.ID, st.Now(), "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		list, err := st.Reader().ListAPIKeys(ctx, u.ID)
		if err != nil || len(list) != 2 {
			t.Fatalf("ListAPIKeys = %v, %v", list, err)
		}
		for _, k := range list {
			if k.Name == "ci" && (k.LastUsedAt == nil || k.LastUsedIP != "127.0.0.1") {
				t.Fatalf("last use not recorded: %+v", k)
			}
			if k.Name == "forever" && k.ExpiresAt != nil {
				t.Fatalf("never-expiring key has expiry %v", k.ExpiresAt)
			}
		}
		if err := w.DeleteAPIKey(ctx, other.ID, k.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another user revoked a key: %v", err)
		}
		if err := w.DeleteAPIKey(ctx, u.ID, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.Reader().APIKeyWithUser(ctx, "kh"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoked key still found: %v", err)
		}
	})
}

func TestTransactionsRollBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := st.InTx(ctx, func(q *store.Q) error {
			newUser(t, q, "r@example.com")
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v", err)
		}
		if n, _ := st.Reader().CountUsers(ctx); n != 0 {
			t.Fatalf("rolled-back user is visible: %d users", n)
		}
	})
}

func TestSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		if _, err := w.Setting(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing setting: %v", err)
		}
		for _, v := range []string{"one", "two"} {
			if err := w.SetSetting(ctx, "k", v); err != nil {
				t.Fatal(err)
			}
			if got, err := w.Setting(ctx, "k"); err != nil || got != v {
				t.Fatalf("Setting = %q, %v; want %q", got, err, v)
			}
		}
		if err := w.DeleteSetting(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCancelledTransaction: a transaction whose context ends before commit
// is rolled back and reports the cancellation, not a confusing ErrTxDone.
func TestCancelledTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		err := st.InTx(ctx, func(q *store.Q) error {
			newUser(t, q, "c@example.com")
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("InTx after cancel = %v, want context.Canceled", err)
		}
		if n, _ := st.Reader().CountUsers(context.Background()); n != 0 {
			t.Fatalf("cancelled transaction left %d users", n)
		}
	})
}
