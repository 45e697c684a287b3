package consumer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/riverqueue/river"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// nopQueue takes the rotation job and drops it: the test runs the
// rotation itself.
type nopQueue struct{}

func (nopQueue) InsertTx(context.Context, *store.Q, river.JobArgs, *river.InsertOpts) (int64, error) {
	return 1, nil
}

// TestKeyRotationCoversConsumers: `sluice keys rotate` re-seals consumer
// secrets (SecretColumns) under the new term, and they keep verifying.
func TestKeyRotationCoversConsumers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		if err := f.keys.Registry().Add(SecretColumns()); err != nil {
			t.Fatal(err)
		}
		secret := strings.Repeat("r", 40)
		c := f.create(t, "hs", map[string]any{"type": "jwt", "algorithms": []any{"HS256"}, "secret": secret})
		f.keys.SetQueue(nopQueue{})
		rot, err := f.keys.Rotate(ctx, audit.Event{ActorID: f.owner.User.ID, ActorEmail: f.owner.User.Email, IP: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		if done, err := f.keys.RunRotation(ctx, rot.Term, 0); err != nil || !done {
			t.Fatalf("rotation: %v %v", done, err)
		}
		row, err := st.Reader().ConsumerByID(ctx, f.projectID, c.Row.ID)
		if err != nil || row.SecretTerm != rot.Term || row.Secret == c.Row.Secret {
			t.Fatalf("after rotation: term %d (want %d), resealed %v, %v", row.SecretTerm, rot.Term, row.Secret != c.Row.Secret, err)
		}
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": f.now.Add(time.Minute).Unix()}).SignedString([]byte(secret))
		if _, err := f.call(bearer(tok), ""); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
	})
}
