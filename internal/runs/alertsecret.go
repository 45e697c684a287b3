package runs

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/store"
)

// Audit actions of the webhook secret.
const (
	ActionAlertSecretCreate = "project.alert_webhook_secret_create"
	ActionAlertSecretDelete = "project.alert_webhook_secret_delete"
)

// The AAD of a sealed webhook secret: its table, the project, the column.
const (
	alertSecretTable = "project_alert_secrets"
	alertSecretField = "webhook_secret"
)

// AlertSecretColumns is the sealed column of webhook secrets, for key
// rotation.
func AlertSecretColumns() secrets.Columns {
	return secrets.Columns{Table: alertSecretTable, ID: "project_id", Term: "webhook_secret_term", Secrets: []string{alertSecretField}}
}

// Sealer seals and opens secrets bound to their row (the keyring).
type Sealer interface {
	SealFor(plain []byte, table, row, field string) (string, int, error)
	OpenFor(stored, table, row, field string) ([]byte, error)
}

// SetSealer gives the alerter the keyring its webhook secrets are sealed
// with.
func (a *Alerter) SetSealer(s Sealer) { a.sealer = s }

// WebhookSecretStatus says whether a project has a webhook secret.
type WebhookSecretStatus struct {
	Set       bool
	CreatedAt time.Time
}

// WebhookSecretStatus says whether g's project has a webhook secret, never
// what it is.
func (a *Alerter) WebhookSecretStatus(ctx context.Context, g *access.Grant) (*WebhookSecretStatus, error) {
	s, err := a.st.Reader().AlertSecretByProject(ctx, g.Project.ID)
	if errors.Is(err, store.ErrNotFound) {
		return &WebhookSecretStatus{}, nil
	}
	if err != nil {
		return nil, err
	}
	return &WebhookSecretStatus{Set: true, CreatedAt: s.CreatedAt}, nil
}

// NewWebhookSecret generates a new webhook signing secret for g's
// project, replacing any, and returns it: the only time it is shown. The
// change and its audit event commit together.
func (a *Alerter) NewWebhookSecret(ctx context.Context, p *account.Principal, g *access.Grant, c account.Client) (secrets.Value, error) {
	if a.sealer == nil {
		return secrets.Value{}, errors.New("runs: no keyring for webhook secrets")
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return secrets.Value{}, err
	}
	secret := "whsec_" + base64.RawURLEncoding.EncodeToString(b)
	ct, term, err := a.sealer.SealFor([]byte(secret), alertSecretTable, g.Project.ID, alertSecretField)
	if err != nil {
		return secrets.Value{}, fmt.Errorf("seal the webhook secret: %w", err)
	}
	err = a.st.InTx(ctx, func(q *store.Q) error {
		if err := recheck(ctx, q, g.Project.ID, p, access.ConfigureProject); err != nil {
			return err
		}
		_, err := q.AlertSecretByProject(ctx, g.Project.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		replaced := err == nil
		if err := q.PutAlertSecret(ctx, &store.AlertSecret{ProjectID: g.Project.ID, Sealed: ct, Term: term}); err != nil {
			return err
		}
		_, err = audit.Append(ctx, q, audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP, ProjectID: g.Project.ID,
			Action: ActionAlertSecretCreate, Target: "project:" + g.Project.ID, Outcome: audit.Success,
			Detail: map[string]any{"replaced": replaced}})
		return err
	})
	if err != nil {
		return secrets.Value{}, err
	}
	return secrets.NewValue(secret), nil
}

// DeleteWebhookSecret removes g's project's webhook secret: webhooks go
// out unsigned. Removing none changes nothing.
func (a *Alerter) DeleteWebhookSecret(ctx context.Context, p *account.Principal, g *access.Grant, c account.Client) error {
	return a.st.InTx(ctx, func(q *store.Q) error {
		if err := recheck(ctx, q, g.Project.ID, p, access.ConfigureProject); err != nil {
			return err
		}
		ok, err := q.DeleteAlertSecret(ctx, g.Project.ID)
		if err != nil || !ok {
			return err
		}
		_, err = audit.Append(ctx, q, audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP, ProjectID: g.Project.ID,
			Action: ActionAlertSecretDelete, Target: "project:" + g.Project.ID, Outcome: audit.Success})
		return err
	})
}

// storedSecret opens a project's webhook secret (empty: none is set).
func (a *Alerter) storedSecret(ctx context.Context, projectID string) (secrets.Value, error) {
	s, err := a.st.Reader().AlertSecretByProject(ctx, projectID)
	if errors.Is(err, store.ErrNotFound) {
		return secrets.Value{}, nil
	}
	if err != nil {
		return secrets.Value{}, err
	}
	if a.sealer == nil {
		return secrets.Value{}, permanent("the project's webhook secret cannot be opened: no keyring")
	}
	plain, err := a.sealer.OpenFor(s.Sealed, alertSecretTable, projectID, alertSecretField)
	if err != nil {
		return secrets.Value{}, fmt.Errorf("open the webhook secret: %w", err)
	}
	return secrets.NewValue(string(plain)), nil
}
