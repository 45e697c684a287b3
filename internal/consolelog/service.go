// Package consolelog captures what flows through a pipe while a user
// debugs it, redacted, as gzip NDJSON sealed with the keyring (AAD: the
// log's ID) in the blob store, and serves it back through signed links
// that expire (DESIGN §3, §8).
package consolelog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sluice-dev/sluice/internal/blob"
	"github.com/sluice-dev/sluice/internal/store"
)

// Sealer seals and opens values bound to a row and field (the keyring).
type Sealer interface {
	SealFor(plain []byte, table, rowID, field string) (string, int, error)
	OpenFor(sealed, table, rowID, field string) ([]byte, error)
}

// Service keeps console logs: their blobs and rows.
type Service struct {
	st     *store.Store
	blobs  blob.Store
	sealer Sealer
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives what went wrong deleting blobs (never their content).
	Log *slog.Logger

	link linkKey
}

// New builds the console-log service.
func New(st *store.Store, blobs blob.Store, sealer Sealer) *Service {
	return &Service{st: st, blobs: blobs, sealer: sealer, Log: slog.Default()}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// BlobKey is where a console log's blob lives.
func BlobKey(projectID, logID string) string {
	return "console-logs/" + projectID + "/" + logID + ".ndjson.gz.sealed"
}

// DeleteLogs removes console logs: each one's blob, then its row, so no
// row ever points at a blob that is gone while the blob outlives it. A
// blob that cannot be deleted keeps its row (a later deletion or the
// retention job tries again) and is reported in the joined error.
func (s *Service) DeleteLogs(ctx context.Context, logs []*store.ConsoleLog) error {
	var errs []error
	for _, l := range logs {
		if err := s.blobs.Delete(ctx, l.BlobKey); err != nil {
			errs = append(errs, fmt.Errorf("console log %s: deleting its blob: %w", l.ID, err))
			continue
		}
		err := s.st.Writer().DeleteConsoleLog(ctx, l.ProjectID, l.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, fmt.Errorf("console log %s: %w", l.ID, err))
		}
	}
	return errors.Join(errs...)
}

// DeleteRunLogs removes the console logs of runs about to be deleted
// (their rows would go with the runs, their blobs would not).
func (s *Service) DeleteRunLogs(ctx context.Context, runIDs []string) error {
	logs, err := s.st.Reader().ConsoleLogsOfRuns(ctx, runIDs)
	if err != nil {
		return err
	}
	return s.DeleteLogs(ctx, logs)
}

// OrphanAge is how old a console-log blob without a row must be before
// SweepOrphans deletes it: a blob is written just before its row, so a
// younger one may be a log being stored.
const OrphanAge = time.Hour

// SweepOrphans deletes the console-log blobs no row points at (a process
// stopped between writing a log's blob and its row, or a row's deletion
// that could not take its blob), older than OrphanAge by the time in
// their log ID (UUIDv7). It reports how many it deleted.
func (s *Service) SweepOrphans(ctx context.Context) (int, error) {
	var orphans []string
	cutoff := s.now().Add(-OrphanAge)
	err := s.blobs.List(ctx, "console-logs/", func(key string) error {
		id := logIDOf(key)
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 {
			return nil // not a log's blob: leave it
		}
		sec, nsec := u.Time().UnixTime()
		if time.Unix(sec, nsec).After(cutoff) {
			return nil
		}
		if _, err := s.st.Reader().ConsoleLogAnyProject(ctx, id); errors.Is(err, store.ErrNotFound) {
			orphans = append(orphans, key)
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, key := range orphans {
		if err := s.blobs.Delete(ctx, key); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// logIDOf is the log ID in a BlobKey.
func logIDOf(key string) string {
	base := key[strings.LastIndex(key, "/")+1:]
	id, _, _ := strings.Cut(base, ".")
	return id
}
