package consumer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
)

// maxCachedTokens bounds the verified-token cache; when full it is
// emptied (tokens are then verified again, nothing more).
const maxCachedTokens = 10_000

// tokenCache remembers JWTs that verified, keyed by SHA-256 of the project
// and the token (never the token itself), until they would expire, so a
// caller reusing a token skips the signature check (an ES256 or RSA
// verification costs far more than a lookup). A hit still loads the
// consumer and requires it unchanged since (same updated_at): a change to
// its keys, algorithms, issuer or audience, or its deletion, ends every
// cached token at once.
type tokenCache struct {
	mu      sync.Mutex
	entries map[[32]byte]tokenEntry
}

type tokenEntry struct {
	projectID, consumerID string
	updated               time.Time
	until                 time.Time
}

func (c *tokenCache) put(sum [32]byte, row *store.Consumer, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxCachedTokens {
		c.entries = make(map[[32]byte]tokenEntry)
	}
	c.entries[sum] = tokenEntry{projectID: row.ProjectID, consumerID: row.ID, updated: row.UpdatedAt, until: until}
}

// get answers a cached token's consumer; ok is false on a miss (expired,
// unknown, or the consumer changed).
func (c *tokenCache) get(ctx context.Context, v *Verifier, projectID string, sum [32]byte) (*Consumer, bool, error) {
	c.mu.Lock()
	e, ok := c.entries[sum]
	if ok && !v.now().Before(e.until) {
		delete(c.entries, sum)
		ok = false
	}
	c.mu.Unlock()
	if !ok || e.projectID != projectID {
		return nil, false, nil
	}
	row, err := v.st.Reader().ConsumerByID(ctx, projectID, e.consumerID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !row.UpdatedAt.Equal(e.updated) || row.AuthType != AuthJWT {
		c.mu.Lock()
		delete(c.entries, sum)
		c.mu.Unlock()
		return nil, false, nil
	}
	cons, err := view(row)
	if err != nil {
		return nil, false, err
	}
	return cons, true, nil
}
