package consumer

import (
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
// verification costs far more than a lookup). A hit still looks the
// consumer up in the project's snapshot and requires it unchanged since
// (same updated_at): a change to its keys, algorithms, issuer or audience,
// or its deletion, ends every cached token as soon as the snapshot shows
// it (at once on this node, through Forget; within ConsumerTTL for a
// change made elsewhere).
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

// get answers a cached token's consumer, found in snap (the project's
// consumers); ok is false on a miss (expired, unknown, or the consumer
// changed or gone).
func (c *tokenCache) get(v *Verifier, snap *snapshot, projectID string, sum [32]byte) (*Consumer, bool, error) {
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
	se := snap.byID[e.consumerID]
	if se == nil {
		return nil, false, nil
	}
	if !se.row.UpdatedAt.Equal(e.updated) || se.row.AuthType != AuthJWT {
		c.mu.Lock()
		delete(c.entries, sum)
		c.mu.Unlock()
		return nil, false, nil
	}
	if se.err != nil {
		return nil, false, se.err
	}
	return se.c, true, nil
}
