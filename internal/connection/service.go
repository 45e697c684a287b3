package connection

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/store"
)

// Sealer seals and opens a connection's secrets, bound to its table, row
// and field (the keyring).
type Sealer interface {
	SealFor(plain []byte, table, row, field string) (ciphertext string, term int, err error)
	OpenFor(ciphertext, table, row, field string) ([]byte, error)
}

// ValidationError lists every problem of a request; nothing was changed.
type ValidationError struct{ Problems []Problem }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + " " + p.Message
	}
	return strings.Join(parts, "; ")
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

// AuthSecretFields are the auth fields that are secret wherever they
// appear (DESIGN §6).
var AuthSecretFields = []string{"password", "token", "client_secret", "consumer_secret", "token_secret", "private_key", "refresh_token", "api_key", "request"}

func isAuthSecret(name string) bool {
	for _, f := range AuthSecretFields {
		if f == name {
			return true
		}
	}
	return false
}

// Service runs connection operations for a project.
type Service struct {
	st     *store.Store
	sealer Sealer
	// Network reaches other systems for tests (egress guard, TLS, auth).
	Network Network
	// ValidateAuth checks an http connection's auth object (type and
	// fields, plain and secret together), listing problems with paths
	// under "auth.".
	ValidateAuth func(auth map[string]any) []Problem
	// httpLimits are the shared Limits of the http connections (httpconn.go).
	httpLimits limitsRegistry
}

// NewService builds a Service.
func NewService(st *store.Store, sealer Sealer) *Service {
	return &Service{st: st, sealer: sealer}
}

// Secrets is a connection's secret values, by key: "secrets.<field>" and
// "auth.<field>". Each is a secrets.Value, so a careless log line or error
// that prints the map shows [REDACTED]; Reveal is called only where a
// value is sealed or handed to a protocol.
type Secrets map[string]secrets.Value

// reveal is the plain form of the secrets, for sealing.
func (sec Secrets) reveal() map[string]string {
	out := make(map[string]string, len(sec))
	for k, v := range sec {
		out[k] = v.Reveal()
	}
	return out
}

// get is one secret in clear ("" when unset).
func (sec Secrets) get(key string) string { return sec[key].Reveal() }

// Connection is a connection with its settings decoded and its secrets
// still sealed.
type Connection struct {
	Row      *store.Connection
	Settings map[string]any
	// Auth holds the plain auth fields; secret ones are in the sealed
	// secrets, and SecretKeys names every secret that is set.
	Auth       map[string]any
	SecretKeys []string
}

// Input is a create or a change. For a change, nil means "keep".
type Input struct {
	Name     *string
	Kind     *string
	Settings map[string]any
	// Secrets maps a secret field to its new value, or to nil to clear it.
	Secrets map[string]*string
	// Auth is the auth object; on a change of the same type, absent
	// fields keep their value and null clears a secret.
	Auth map[string]any
}

func checkName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" || utf8.RuneCountInString(n) > 100 || strings.ContainsAny(n, "\x00\r\n\t") {
		return "", &ValidationError{Problems: []Problem{{Field: "name", Message: "is required: at most 100 characters on one line, such as \"shop\" (flows name connections by it)"}}}
	}
	return n, nil
}

func (s *Service) open(c *store.Connection) (Secrets, error) {
	out := Secrets{}
	if c.Secrets == "" {
		return out, nil
	}
	plain, err := s.sealer.OpenFor(c.Secrets, "connections", c.ID, "secrets")
	if err != nil {
		return nil, fmt.Errorf("connection %q: unseal secrets: %w", c.Name, err)
	}
	var m map[string]string
	if err := json.Unmarshal(plain, &m); err != nil {
		return nil, fmt.Errorf("connection %q: sealed secrets are unreadable: %w", c.Name, err)
	}
	for k, v := range m {
		out[k] = secrets.NewValue(v)
	}
	return out, nil
}

func (s *Service) seal(c *store.Connection, sec Secrets) error {
	if len(sec) == 0 {
		c.Secrets, c.SecretsTerm = "", 0
		return nil
	}
	plain, _ := json.Marshal(sec.reveal())
	ct, term, err := s.sealer.SealFor(plain, "connections", c.ID, "secrets")
	if err != nil {
		return fmt.Errorf("connection %q: seal secrets: %w", c.Name, err)
	}
	c.Secrets, c.SecretsTerm = ct, term
	return nil
}

// build validates an input against the kind (over prev for a change) and
// returns the plain parts and the full secrets.
func (s *Service) build(kind *Kind, in Input, prevSettings, prevAuth map[string]any, prevSecrets Secrets) (map[string]any, map[string]any, Secrets, error) {
	var ps problems
	settings := prevSettings
	if in.Settings != nil || prevSettings == nil {
		src := in.Settings
		if src == nil {
			src = map[string]any{}
		}
		settings = checkObject("settings.", kind.Settings, src, &ps)
	}
	sec := Secrets{}
	for k, v := range prevSecrets {
		sec[k] = v
	}
	known := map[string]bool{}
	for _, f := range kind.Secrets {
		known[f.Name] = true
	}
	for k, v := range in.Secrets {
		if !known[k] {
			names := make([]string, 0, len(kind.Secrets))
			for _, f := range kind.Secrets {
				names = append(names, f.Name)
			}
			ps.add("secrets."+k, "is not a secret of a %s connection: use %s", kind.Name, strings.Join(names, ", "))
			continue
		}
		if v == nil || *v == "" {
			delete(sec, "secrets."+k)
		} else {
			sec["secrets."+k] = secrets.NewValue(*v)
		}
	}
	auth := prevAuth
	if !kind.HTTPAuth && in.Auth != nil {
		ps.add("auth", "is only for http connections: a %s connection authenticates with settings.user and secrets.password", kind.Name)
	}
	if kind.HTTPAuth && (in.Auth != nil || prevAuth == nil) {
		a := in.Auth
		if a == nil {
			a = map[string]any{"type": "none"}
		}
		newType, _ := a["type"].(string)
		oldType, _ := prevAuth["type"].(string)
		if _, ok := a["type"]; !ok && prevAuth != nil {
			newType = oldType
		}
		if newType != oldType || prevAuth == nil {
			// Another scheme: nothing of the old one is kept.
			for k := range sec {
				if strings.HasPrefix(k, "auth.") {
					delete(sec, k)
				}
			}
			auth = map[string]any{}
		} else {
			auth = map[string]any{}
			for k, v := range prevAuth {
				auth[k] = v
			}
		}
		auth["type"] = newType
		for k, v := range a {
			if k == "type" {
				continue
			}
			if isAuthSecret(k) {
				switch x := v.(type) {
				case nil:
					delete(sec, "auth."+k)
				case string:
					if x == "" {
						delete(sec, "auth."+k)
					} else {
						sec["auth."+k] = secrets.NewValue(x)
					}
				case map[string]any:
					if !authObjectSecrets[k] {
						ps.add("auth."+k, "must be a string (it is a secret)")
						continue
					}
					b, _ := json.Marshal(x)
					sec["auth."+k] = secrets.NewValue(string(b))
				default:
					ps.add("auth."+k, "must be a string (it is a secret)")
				}
				continue
			}
			if v == nil {
				delete(auth, k)
			} else {
				auth[k] = v
			}
		}
		if s.ValidateAuth != nil {
			full := map[string]any{}
			for k, v := range auth {
				full[k] = v
			}
			for k, v := range mergeAuthSecrets(nil, sec) {
				full[k] = v
			}
			ps = append(ps, s.ValidateAuth(full)...)
		}
	}
	if err := ps.err(); err != nil {
		return nil, nil, nil, err
	}
	return settings, auth, sec, nil
}

func decode(raw string) map[string]any {
	m := map[string]any{}
	if raw != "" {
		_ = json.Unmarshal([]byte(raw), &m)
	}
	return m
}

func (s *Service) view(c *store.Connection, sec Secrets) *Connection {
	v := &Connection{Row: c, Settings: decode(c.Settings)}
	if c.Kind == "http" {
		v.Auth = decode(c.Auth)
	}
	for k := range sec {
		v.SecretKeys = append(v.SecretKeys, k)
	}
	sort.Strings(v.SecretKeys)
	return v
}

func event(p *account.Principal, c account.Client, projectID, action, target string, detail map[string]any) audit.Event {
	return audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP, ProjectID: projectID,
		Action: action, Target: target, Outcome: audit.Success, Detail: detail}
}

// Create adds a connection to a project.
func (s *Service) Create(ctx context.Context, p *account.Principal, projectID string, in Input, cl account.Client) (*Connection, error) {
	var ps problems
	name := ""
	if in.Name == nil {
		ps.add("name", "is required")
	} else if n, err := checkName(*in.Name); err != nil {
		ps = append(ps, err.(*ValidationError).Problems...)
	} else {
		name = n
	}
	var kind *Kind
	if in.Kind == nil || Kinds[*in.Kind] == nil {
		ps.add("kind", "must be one of %s", strings.Join(KindNames(), ", "))
	} else {
		kind = Kinds[*in.Kind]
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	settings, auth, sec, err := s.build(kind, in, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	c := &store.Connection{ID: store.NewID(), ProjectID: projectID, Name: name, Kind: kind.Name}
	sb, _ := json.Marshal(settings)
	c.Settings = string(sb)
	if auth != nil {
		ab, _ := json.Marshal(auth)
		c.Auth = string(ab)
	} else {
		c.Auth = "{}"
	}
	if err := s.seal(c, sec); err != nil {
		return nil, err
	}
	err = s.st.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateConnection(ctx, c); err != nil {
			return err
		}
		_, err := audit.Append(ctx, q, event(p, cl, projectID, audit.ActionConnectionCreate, "connection:"+c.ID,
			map[string]any{"name": name, "kind": kind.Name, "auth": auth["type"], "secrets_set": keys(sec)}))
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.view(c, sec), nil
}

func keys(sec Secrets) []string {
	out := make([]string, 0, len(sec))
	for k := range sec {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// List lists a project's connections.
func (s *Service) List(ctx context.Context, projectID string) ([]*Connection, error) {
	rows, err := s.st.Reader().ListConnections(ctx, projectID)
	if err != nil {
		return nil, err
	}
	out := make([]*Connection, 0, len(rows))
	for _, c := range rows {
		sec, err := s.open(c)
		if err != nil {
			return nil, err
		}
		out = append(out, s.view(c, sec))
	}
	return out, nil
}

// Get loads one connection of a project.
func (s *Service) Get(ctx context.Context, projectID, id string) (*Connection, error) {
	c, err := s.st.Reader().ConnectionByID(ctx, projectID, id)
	if err != nil {
		return nil, err
	}
	sec, err := s.open(c)
	if err != nil {
		return nil, err
	}
	return s.view(c, sec), nil
}

// Update changes a connection: name, settings (replaced whole), single
// secrets (replaced or cleared, the others kept) and auth.
func (s *Service) Update(ctx context.Context, p *account.Principal, projectID, id string, in Input, cl account.Client) (*Connection, error) {
	var out *Connection
	err := s.st.InTx(ctx, func(q *store.Q) error {
		c, err := q.ConnectionByID(ctx, projectID, id)
		if err != nil {
			return err
		}
		if in.Kind != nil && *in.Kind != c.Kind {
			return &ValidationError{Problems: []Problem{{Field: "kind", Message: fmt.Sprintf("cannot change from %s: create a new connection instead", c.Kind)}}}
		}
		prev, err := s.open(c)
		if err != nil {
			return err
		}
		var prevAuth map[string]any
		if c.Kind == "http" {
			prevAuth = decode(c.Auth)
		}
		settings, auth, sec, err := s.build(Kinds[c.Kind], in, decode(c.Settings), prevAuth, prev)
		if err != nil {
			return err
		}
		next := *c
		detail := map[string]any{}
		if in.Name != nil {
			n, err := checkName(*in.Name)
			if err != nil {
				return err
			}
			if n != c.Name {
				detail["name"] = map[string]string{"before": c.Name, "after": n}
				next.Name = n
			}
		}
		sb, _ := json.Marshal(settings)
		if string(sb) != c.Settings {
			detail["settings"] = map[string]json.RawMessage{"before": json.RawMessage(c.Settings), "after": sb}
			next.Settings = string(sb)
		}
		if auth != nil {
			ab, _ := json.Marshal(auth)
			if string(ab) != c.Auth {
				// Plain auth fields only: secrets are never recorded.
				detail["auth"] = map[string]json.RawMessage{"before": json.RawMessage(c.Auth), "after": ab}
				next.Auth = string(ab)
			}
		}
		var changed []string
		for k, v := range sec {
			if prev[k].Reveal() != v.Reveal() {
				changed = append(changed, k)
			}
		}
		for k := range prev {
			if _, ok := sec[k]; !ok {
				changed = append(changed, k)
			}
		}
		sort.Strings(changed)
		if len(changed) > 0 {
			detail["secrets_changed"] = changed
			if err := s.seal(&next, sec); err != nil {
				return err
			}
		}
		if len(detail) > 0 {
			if err := q.UpdateConnection(ctx, &next); err != nil {
				return err
			}
			detail["name_now"] = next.Name
			if _, err := audit.Append(ctx, q, event(p, cl, projectID, audit.ActionConnectionUpdate, "connection:"+c.ID, detail)); err != nil {
				return err
			}
		}
		out = s.view(&next, sec)
		return nil
	})
	return out, err
}

// Delete removes a connection and its sealed secrets.
func (s *Service) Delete(ctx context.Context, p *account.Principal, projectID, id string, cl account.Client) error {
	return s.st.InTx(ctx, func(q *store.Q) error {
		c, err := q.ConnectionByID(ctx, projectID, id)
		if err != nil {
			return err
		}
		if err := q.DeleteConnection(ctx, projectID, id); err != nil {
			return err
		}
		_, err = audit.Append(ctx, q, event(p, cl, projectID, audit.ActionConnectionDelete, "connection:"+c.ID,
			map[string]any{"name": c.Name, "kind": c.Kind}))
		return err
	})
}

// mergeAuthSecrets adds the sealed auth fields to a copy of the plain ones.
func mergeAuthSecrets(plain map[string]any, sec Secrets) map[string]any {
	out := map[string]any{}
	for k, v := range plain {
		out[k] = v
	}
	for k, v := range sec {
		name, ok := strings.CutPrefix(k, "auth.")
		if !ok {
			continue
		}
		if authObjectSecrets[name] {
			var obj map[string]any
			if json.Unmarshal([]byte(v.Reveal()), &obj) == nil {
				out[name] = obj
				continue
			}
		}
		out[name] = v.Reveal()
	}
	return out
}

// SaveSecrets replaces a connection's sealed secrets (an OAuth 2.0 refresh
// token that the authorization server rotated).
func (s *Service) SaveSecrets(ctx context.Context, c *Connection, sec Secrets) error {
	row := *c.Row
	if err := s.seal(&row, sec); err != nil {
		return err
	}
	return s.st.Writer().SetConnectionSecrets(ctx, row.ProjectID, row.ID, row.Secrets, row.SecretsTerm)
}
