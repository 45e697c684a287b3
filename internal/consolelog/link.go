package consolelog

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/blob"
	"github.com/sluice-dev/sluice/internal/store"
)

// LinkTTL is how long a download link works.
const LinkTTL = 5 * time.Minute

// Errors of a download; the API answers them without detail.
var (
	// ErrBadLink: the token is malformed or its signature does not match
	// (403).
	ErrBadLink = errors.New("console log: the link is not valid")
	// ErrLinkGone: the link expired, or its log was deleted (410).
	ErrLinkGone = errors.New("console log: the link has expired or its log was deleted")
)

const linkKeyTable = "link_keys"

// linkKey is the key that signs links: made once, sealed in the database,
// shared by every node, kept in memory after the first use.
type linkKey struct {
	mu  sync.Mutex
	key []byte
}

func (s *Service) signingKey(ctx context.Context) ([]byte, error) {
	s.link.mu.Lock()
	defer s.link.mu.Unlock()
	if s.link.key != nil {
		return s.link.key, nil
	}
	id, sealed, err := s.st.Reader().LinkKey(ctx)
	if errors.Is(err, store.ErrNotFound) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		id = store.NewID()
		if sealed, _, err = s.sealer.SealFor(key, linkKeyTable, id, "key"); err != nil {
			return nil, err
		}
		if err := s.st.Writer().PutLinkKey(ctx, id, sealed); err != nil {
			return nil, err
		}
		// Another node may have stored one first: use the one stored.
		id, sealed, err = s.st.Reader().LinkKey(ctx)
	}
	if err != nil {
		return nil, err
	}
	key, err := s.sealer.OpenFor(sealed, linkKeyTable, id, "key")
	if err != nil {
		return nil, fmt.Errorf("console log: opening the link key: %w", err)
	}
	s.link.key = key
	return key, nil
}

func sign(key []byte, logID, userID string, exp int64) []byte {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "sluice-console-log-link/v1\n%s\n%s\n%d", logID, userID, exp)
	return m.Sum(nil)
}

// Link makes the download link token of a console log for a user, and
// when it expires.
func (s *Service) Link(ctx context.Context, l *store.ConsoleLog, userID string) (string, time.Time, error) {
	key, err := s.signingKey(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	exp := s.now().Add(LinkTTL).Truncate(time.Second)
	tok := l.ID + "." + userID + "." + strconv.FormatInt(exp.Unix(), 10) + "." + hex.EncodeToString(sign(key, l.ID, userID, exp.Unix()))
	return tok, exp, nil
}

// Verified is what a valid link grants: one log, for one user.
type Verified struct {
	Log    *store.ConsoleLog
	UserID string
}

// Verify checks a link token: its signature (in constant time), its
// expiry, and that its log still exists. The caller still checks that the
// user may see the log's project.
func (s *Service) Verify(ctx context.Context, token string) (*Verified, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 || len(token) > 512 {
		return nil, ErrBadLink
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return nil, ErrBadLink
	}
	got, err := hex.DecodeString(parts[3])
	if err != nil {
		return nil, ErrBadLink
	}
	key, err := s.signingKey(ctx)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(got, sign(key, parts[0], parts[1], exp)) {
		return nil, ErrBadLink
	}
	if !s.now().Before(time.Unix(exp, 0)) {
		return nil, ErrLinkGone
	}
	l, err := s.st.Reader().ConsoleLogAnyProject(ctx, parts[0])
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrLinkGone
	}
	if err != nil {
		return nil, err
	}
	return &Verified{Log: l, UserID: parts[1]}, nil
}

// Open gives a console log's gzip NDJSON, opened from its sealed blob.
func (s *Service) Open(ctx context.Context, l *store.ConsoleLog) ([]byte, error) {
	r, err := s.blobs.Open(ctx, l.BlobKey)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, ErrLinkGone
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	sealed, err := io.ReadAll(io.LimitReader(r, 2*MaxLogBytes+1<<20))
	if err != nil {
		return nil, fmt.Errorf("console log: reading its blob: %w", err)
	}
	gz, err := s.sealer.OpenFor(string(sealed), SealTable, l.ID, SealField)
	if err != nil {
		return nil, fmt.Errorf("console log %s: opening its blob: %w", l.ID, err)
	}
	return gz, nil
}

// Audit actions of console logs.
const (
	ActionLink   = "console_log.link"
	ActionDelete = "console_log.delete"
)

// IssueLink makes a user's download link of a log, as Link does, and
// records it in the activity log: every link handed out is an event.
func (s *Service) IssueLink(ctx context.Context, l *store.ConsoleLog, p *account.Principal, cl account.Client) (string, time.Time, error) {
	tok, exp, err := s.Link(ctx, l, p.User.ID)
	if err != nil {
		return "", time.Time{}, err
	}
	err = s.st.InTx(ctx, func(q *store.Q) error {
		_, err := audit.Append(ctx, q, audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: cl.IP, ProjectID: l.ProjectID,
			Action: ActionLink, Target: "console_log:" + l.ID, Outcome: audit.Success,
			Detail: map[string]any{"run_id": l.RunID, "pipe_id": l.PipeID, "expires_at": exp}})
		return err
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, exp, nil
}

// Delete deletes logs of a project a user asked to delete (DeleteLogs:
// each blob, then its row) and records one event naming target ("the
// log", or "the pipe" whose logs went) with detail.
func (s *Service) Delete(ctx context.Context, projectID string, ls []*store.ConsoleLog, p *account.Principal, cl account.Client, target string, detail map[string]any) error {
	if err := s.DeleteLogs(ctx, ls); err != nil {
		return err
	}
	return s.st.InTx(ctx, func(q *store.Q) error {
		_, err := audit.Append(ctx, q, audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: cl.IP, ProjectID: projectID,
			Action: ActionDelete, Target: target, Outcome: audit.Success, Detail: detail})
		return err
	})
}
