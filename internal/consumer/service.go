// Package consumer manages service consumers, the external systems that
// call a project's flows over HTTP (DESIGN §3, §6, §8), and verifies their
// credentials: a JWT (RFC 7519) with pinned algorithms, Basic (RFC 7617)
// with a generated secret kept only as a hash, or an HMAC signature over a
// webhook's body.
package consumer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/connection"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/store"
)

// Audit actions of consumer changes.
const (
	ActionCreate = "consumer.create"
	ActionUpdate = "consumer.update"
	ActionDelete = "consumer.delete"
	ActionSecret = "consumer.secret_rotate"
)

// Auth types.
const (
	AuthJWT   = "jwt"
	AuthBasic = "basic"
	AuthHMAC  = "hmac"
)

// HMAC styles.
const (
	StyleShopify = "shopify"
	StyleGitHub  = "github"
	StyleGeneric = "generic"
)

// Limits of a consumer's settings.
const (
	maxNameLen       = 100
	maxFlows         = 1000
	maxCIDRs         = 100
	maxLeewaySeconds = 60
	maxAgeSeconds    = 7 * 24 * 3600
	minHSSecret      = 32
	maxRate          = 100_000
	// DefaultRatePerSec and DefaultBurst apply when a create names no rate
	// limit.
	DefaultRatePerSec = 50
	DefaultBurst      = 100
)

// Sealer seals and opens a consumer's secret, bound to its row (the
// keyring).
type Sealer interface {
	SealFor(plain []byte, table, row, field string) (ciphertext string, term int, err error)
	OpenFor(ciphertext, table, row, field string) ([]byte, error)
}

// Algorithms a JWT consumer may pin; "none" is never one of them.
var Algorithms = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"}

func isHS(alg string) bool { return strings.HasPrefix(alg, "HS") }

// Settings are a consumer's plain auth settings (stored as JSON).
type Settings struct {
	Type string `json:"type"`
	// JWT.
	Algorithms    []string `json:"algorithms,omitempty"`
	PublicKey     string   `json:"public_key,omitempty"`
	JWKSURL       string   `json:"jwks_url,omitempty"`
	Issuer        string   `json:"issuer,omitempty"`
	Audience      string   `json:"audience,omitempty"`
	MaxAgeSeconds int      `json:"max_age_seconds,omitempty"`
	LeewaySeconds int      `json:"leeway_seconds,omitempty"`
	// HMAC.
	Style           string `json:"style,omitempty"`
	Header          string `json:"header,omitempty"`
	TimestampHeader string `json:"timestamp_header,omitempty"`
	MaxSkewSeconds  int    `json:"max_skew_seconds,omitempty"`
}

// RateLimit is how often a consumer may call: PerSecond on average, up to
// Burst at once.
type RateLimit struct {
	PerSecond float64 `json:"per_second"`
	Burst     int     `json:"burst"`
}

// Consumer is a consumer with its settings decoded. Its secret stays
// sealed (or hashed) in Row.
type Consumer struct {
	Row        *store.Consumer
	Settings   Settings
	Flows      []string
	AllowedIPs []netip.Prefix
	RateLimit  RateLimit
	// SecretSet says whether a secret is stored.
	SecretSet bool
	// Secret is the generated secret, in clear, only in the answer of a
	// create or a rotation that generated it.
	Secret string
}

// Input is a create or a change; nil means "keep" on a change. Auth is
// the auth object as sent; on a change it replaces the auth whole
// (a secret left out is kept when the type stays the same).
type Input struct {
	Name       *string
	Auth       map[string]any
	Flows      *[]string
	AllowedIPs *[]string
	RateLimit  *RateLimit
}

// Service runs consumer operations.
type Service struct {
	st     *store.Store
	sealer Sealer
	// OnChange, when set, is called with the project after each create,
	// change, secret rotation or delete of one of its consumers has ended
	// its transaction (Verifier.Forget, so the change takes effect at once).
	OnChange func(projectID string)
}

// changed tells OnChange that a change to the project's consumers may
// have committed. It is called after a failed transaction too: a commit
// error does not prove nothing was written, and a needless Forget costs
// one reload.
func (s *Service) changed(projectID string) {
	if s.OnChange != nil {
		s.OnChange(projectID)
	}
}

// NewService builds a Service.
func NewService(st *store.Store, sealer Sealer) *Service {
	return &Service{st: st, sealer: sealer}
}

type problems []connection.Problem

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, connection.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &connection.ValidationError{Problems: ps}
}

// randomToken is n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newUsername is a generated Basic username: "sc-" and 80 random bits.
func newUsername() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return "sc-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// hashSecret is the stored form of a generated Basic secret: SHA-256 of a
// 256-bit random value (no slow hash is needed for that entropy).
func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func str(m map[string]any, k string, ps *problems) string {
	v, ok := m[k]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		ps.add("auth."+k, "must be a string")
	}
	return strings.TrimSpace(s)
}

func num(m map[string]any, k string, ps *problems) int {
	v, ok := m[k]
	if !ok || v == nil {
		return 0
	}
	f, ok := v.(float64)
	if !ok || f != float64(int(f)) || f < 0 {
		ps.add("auth."+k, "must be a whole number of seconds, 0 or more")
		return 0
	}
	return int(f)
}

// parseAuth validates an auth object. It returns the plain settings and
// the secret given in it ("" when none). On a change, prevType is the
// previous auth type and keepSecret says a secret is stored, which an HS
// consumer that stays one keeps when none is given.
func parseAuth(a map[string]any, keepSecret bool, prevType string, ps *problems) (Settings, string) {
	var s Settings
	if a == nil {
		ps.add("auth", "is required: {\"type\": \"jwt\"|\"basic\"|\"hmac\", ...}")
		return s, ""
	}
	s.Type = str(a, "type", ps)
	known := map[string]bool{"type": true}
	secret := ""
	sameType := s.Type == prevType && keepSecret
	switch s.Type {
	case AuthJWT:
		for _, k := range []string{"algorithms", "secret", "public_key", "jwks_url", "issuer", "audience", "max_age_seconds", "leeway_seconds"} {
			known[k] = true
		}
		raw, _ := a["algorithms"].([]any)
		if len(raw) == 0 {
			ps.add("auth.algorithms", "is required: a list of %s (never none)", strings.Join(Algorithms, ", "))
		}
		seen := map[string]bool{}
		for i, x := range raw {
			alg, _ := x.(string)
			ok := false
			for _, a := range Algorithms {
				ok = ok || a == alg
			}
			if !ok {
				ps.add(fmt.Sprintf("auth.algorithms[%d]", i), "%q is not allowed: use %s (never none)", alg, strings.Join(Algorithms, ", "))
				continue
			}
			if !seen[alg] {
				seen[alg] = true
				s.Algorithms = append(s.Algorithms, alg)
			}
		}
		var hs, asym bool
		for _, alg := range s.Algorithms {
			hs = hs || isHS(alg)
			asym = asym || !isHS(alg)
		}
		if hs && asym {
			ps.add("auth.algorithms", "mixes HS (shared secret) and public-key algorithms: a consumer uses one kind of key, so an HS token can never be checked with a public key")
		}
		secret = str(a, "secret", ps)
		s.PublicKey = str(a, "public_key", ps)
		s.JWKSURL = str(a, "jwks_url", ps)
		if hs {
			if secret == "" && !sameType {
				ps.add("auth.secret", "is required for HS algorithms: at least %d bytes of random data", minHSSecret)
			} else if secret != "" && len(secret) < minHSSecret {
				ps.add("auth.secret", "is too short: HS secrets need at least %d bytes", minHSSecret)
			}
			if s.PublicKey != "" || s.JWKSURL != "" {
				ps.add("auth.public_key", "is for public-key algorithms: an HS consumer has only a secret")
			}
		}
		if asym {
			if secret != "" {
				ps.add("auth.secret", "is for HS algorithms: a public-key consumer has public_key or jwks_url")
			}
			switch {
			case (s.PublicKey == "") == (s.JWKSURL == ""):
				ps.add("auth.public_key", "give exactly one of public_key (PEM) or jwks_url (https)")
			case s.PublicKey != "":
				if _, err := parsePublicKey(s.PublicKey); err != nil {
					ps.add("auth.public_key", "%s", err.Error())
				} else if msg := keyFitsAlgorithms(s.PublicKey, s.Algorithms); msg != "" {
					ps.add("auth.public_key", "%s", msg)
				}
			default:
				if !strings.HasPrefix(s.JWKSURL, "https://") || len(s.JWKSURL) > 2000 {
					ps.add("auth.jwks_url", "must be an https:// URL of at most 2000 characters, such as https://idp.example.com/.well-known/jwks.json")
				}
			}
		}
		s.Issuer = str(a, "issuer", ps)
		s.Audience = str(a, "audience", ps)
		s.MaxAgeSeconds = num(a, "max_age_seconds", ps)
		if s.MaxAgeSeconds > maxAgeSeconds {
			ps.add("auth.max_age_seconds", "must be at most %d (7 days)", maxAgeSeconds)
		}
		s.LeewaySeconds = num(a, "leeway_seconds", ps)
		if s.LeewaySeconds > maxLeewaySeconds {
			ps.add("auth.leeway_seconds", "must be at most %d", maxLeewaySeconds)
		}
	case AuthBasic:
		known["username"] = true
		if _, ok := a["username"]; ok {
			ps.add("auth.username", "is generated by Sluice: leave it out")
		}
	case AuthHMAC:
		for _, k := range []string{"style", "secret", "header", "timestamp_header", "max_skew_seconds"} {
			known[k] = true
		}
		s.Style = str(a, "style", ps)
		secret = str(a, "secret", ps)
		if secret != "" && len(secret) < minHSSecret {
			ps.add("auth.secret", "is too short: at least %d bytes (leave it out and Sluice generates one)", minHSSecret)
		}
		switch s.Style {
		case StyleShopify, StyleGitHub:
			for _, k := range []string{"header", "timestamp_header", "max_skew_seconds"} {
				if _, ok := a[k]; ok {
					ps.add("auth."+k, "is only for the generic style: %s sends its own header", s.Style)
				}
			}
		case StyleGeneric:
			s.Header = str(a, "header", ps)
			s.TimestampHeader = str(a, "timestamp_header", ps)
			s.MaxSkewSeconds = num(a, "max_skew_seconds", ps)
			if !validHeaderName(s.Header) {
				ps.add("auth.header", "is required: the header carrying the hex or base64 HMAC-SHA256, such as X-Signature")
			}
			if !validHeaderName(s.TimestampHeader) {
				ps.add("auth.timestamp_header", "is required: the header carrying the Unix time the signature covers, such as X-Timestamp")
			}
			if s.MaxSkewSeconds == 0 {
				s.MaxSkewSeconds = 300
			}
			if s.MaxSkewSeconds > 3600 {
				ps.add("auth.max_skew_seconds", "must be at most 3600")
			}
		default:
			ps.add("auth.style", "must be shopify, github or generic")
		}
	default:
		ps.add("auth.type", "must be jwt, basic or hmac")
		return s, ""
	}
	for k := range a {
		if !known[k] {
			ps.add("auth."+k, "is not a field of %s auth", s.Type)
		}
	}
	return s, secret
}

func validHeaderName(h string) bool {
	if h == "" || len(h) > 100 {
		return false
	}
	for _, r := range h {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func checkName(name *string, ps *problems) string {
	if name == nil {
		ps.add("name", "is required")
		return ""
	}
	n := strings.TrimSpace(*name)
	if n == "" || utf8.RuneCountInString(n) > maxNameLen || !utf8.ValidString(n) || strings.ContainsFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		ps.add("name", "is required: at most %d characters on one line, such as \"shop webhooks\"", maxNameLen)
		return ""
	}
	return n
}

func checkCIDRs(in []string, ps *problems) []string {
	if len(in) > maxCIDRs {
		ps.add("allowed_ips", "has %d entries: at most %d", len(in), maxCIDRs)
		return nil
	}
	out := make([]string, 0, len(in))
	for i, c := range in {
		c = strings.TrimSpace(c)
		p, err := netip.ParsePrefix(c)
		if err != nil {
			if a, aerr := netip.ParseAddr(c); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				ps.add(fmt.Sprintf("allowed_ips[%d]", i), "%q is not a CIDR range: use forms like 203.0.113.0/24, 2001:db8::/32 or a single address", c)
				continue
			}
		}
		if p.Masked() != p {
			ps.add(fmt.Sprintf("allowed_ips[%d]", i), "%q has host bits set: did you mean %s?", c, p.Masked())
			continue
		}
		out = append(out, p.String())
	}
	return out
}

func checkRate(r *RateLimit, ps *problems) RateLimit {
	if r == nil {
		return RateLimit{PerSecond: DefaultRatePerSec, Burst: DefaultBurst}
	}
	if !(r.PerSecond > 0 && r.PerSecond <= maxRate) {
		ps.add("rate_limit.per_second", "must be more than 0 and at most %d", maxRate)
	}
	if r.Burst < 1 || r.Burst > maxRate {
		ps.add("rate_limit.burst", "must be between 1 and %d", maxRate)
	}
	return *r
}

// checkFlows checks that every flow ID is a flow of the project.
func checkFlows(ctx context.Context, q *store.Q, projectID string, ids []string, ps *problems) ([]string, error) {
	if len(ids) > maxFlows {
		ps.add("flows", "has %d entries: at most %d", len(ids), maxFlows)
		return nil, nil
	}
	seen := map[string]bool{}
	var uniq []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	found, err := q.FlowsOfProject(ctx, projectID, uniq)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if !found[id] {
			ps.add(fmt.Sprintf("flows[%d]", i), "%q is not a flow of this project: use flow IDs from GET /api/v1/projects/{p}/pipes/{pipe}/flows", truncate(id, 60))
		}
	}
	if uniq == nil {
		uniq = []string{}
	}
	return uniq, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// recheck re-reads the caller's role inside q's transaction, after taking
// the lock that serialises access changes: a request that waited behind a
// demotion must not act on the role it no longer has.
func recheck(ctx context.Context, q *store.Q, projectID string, p *account.Principal) error {
	if err := q.LockAuditChain(ctx); err != nil {
		return err
	}
	_, rank, err := q.ProjectForUser(ctx, projectID, p.User.ID)
	if err != nil {
		return err
	}
	if !access.Can(access.RoleFromRank(rank), access.ManageCredentials) {
		return project.ErrRoleChanged
	}
	return nil
}

func event(p *account.Principal, c account.Client, projectID, action, target string, detail map[string]any) audit.Event {
	return audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP, ProjectID: projectID,
		Action: action, Target: target, Outcome: audit.Success, Detail: detail}
}

// setSecret seals a given secret (JWT HS, HMAC) or generates one: a Basic
// secret is hashed, an HMAC one sealed. It returns the generated secret
// ("" when the user gave it).
func (s *Service) setSecret(row *store.Consumer, given string) (string, error) {
	row.Secret, row.SecretTerm, row.SecretHash = "", 0, ""
	switch row.AuthType {
	case AuthBasic:
		gen := randomToken(32)
		row.SecretHash = hashSecret(gen)
		return gen, nil
	case AuthJWT, AuthHMAC:
		secret, generated := given, ""
		if secret == "" {
			if row.AuthType == AuthJWT {
				return "", nil // a public-key consumer has no secret
			}
			secret = randomToken(32)
			generated = secret
		}
		ct, term, err := s.sealer.SealFor([]byte(secret), "consumers", row.ID, "secret")
		if err != nil {
			return "", fmt.Errorf("consumer %q: seal secret: %w", row.Name, err)
		}
		row.Secret, row.SecretTerm = ct, term
		return generated, nil
	}
	return "", nil
}

func marshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// view decodes a stored consumer.
func view(row *store.Consumer) (*Consumer, error) {
	c := &Consumer{Row: row, SecretSet: row.Secret != "" || row.SecretHash != "",
		RateLimit: RateLimit{PerSecond: row.RatePerSec, Burst: row.RateBurst}}
	if err := json.Unmarshal([]byte(row.Auth), &c.Settings); err != nil {
		return nil, fmt.Errorf("consumer %q: stored auth settings are unreadable: %w", row.Name, err)
	}
	if err := json.Unmarshal([]byte(row.Flows), &c.Flows); err != nil {
		return nil, fmt.Errorf("consumer %q: stored flows are unreadable: %w", row.Name, err)
	}
	var ips []string
	if err := json.Unmarshal([]byte(row.AllowedIPs), &ips); err != nil {
		return nil, fmt.Errorf("consumer %q: stored allowed IPs are unreadable: %w", row.Name, err)
	}
	for _, ip := range ips {
		p, err := netip.ParsePrefix(ip)
		if err != nil {
			return nil, fmt.Errorf("consumer %q: stored allowed IP %q is unreadable: %w", row.Name, ip, err)
		}
		c.AllowedIPs = append(c.AllowedIPs, p)
	}
	return c, nil
}

// Create adds a consumer to a project. A Basic consumer's username and
// secret, and an HMAC consumer's secret when none was given, are
// generated; the answer carries the generated secret this once.
func (s *Service) Create(ctx context.Context, p *account.Principal, projectID string, in Input, cl account.Client) (*Consumer, error) {
	var ps problems
	name := checkName(in.Name, &ps)
	settings, secret := parseAuth(in.Auth, false, "", &ps)
	var ips []string
	if in.AllowedIPs != nil {
		ips = checkCIDRs(*in.AllowedIPs, &ps)
	}
	if ips == nil {
		ips = []string{}
	}
	rate := checkRate(in.RateLimit, &ps)
	var flows []string
	if in.Flows != nil {
		flows = *in.Flows
	}
	row := &store.Consumer{ID: store.NewID(), ProjectID: projectID, Name: name, AuthType: settings.Type,
		Auth: marshal(settings), AllowedIPs: marshal(ips), RatePerSec: rate.PerSecond, RateBurst: rate.Burst}
	if settings.Type == AuthBasic {
		row.Username = newUsername()
	}
	var generated string
	err := s.st.InTx(ctx, func(q *store.Q) error {
		if err := recheck(ctx, q, projectID, p); err != nil {
			return err
		}
		uniq, err := checkFlows(ctx, q, projectID, flows, &ps)
		if err != nil {
			return err
		}
		if err := ps.err(); err != nil {
			return err
		}
		row.Flows = marshal(uniq)
		if generated, err = s.setSecret(row, secret); err != nil {
			return err
		}
		if err := q.CreateConsumer(ctx, row); err != nil {
			return err
		}
		_, err = audit.Append(ctx, q, event(p, cl, projectID, ActionCreate, "consumer:"+row.ID,
			map[string]any{"name": name, "auth": settings.Type, "flows": uniq, "allowed_ips": ips}))
		return err
	})
	s.changed(projectID)
	if err != nil {
		return nil, err
	}
	c, err := view(row)
	if err != nil {
		return nil, err
	}
	c.Secret = generated
	return c, nil
}

// List lists a project's consumers.
func (s *Service) List(ctx context.Context, projectID string) ([]*Consumer, error) {
	rows, err := s.st.Reader().ListConsumers(ctx, projectID)
	if err != nil {
		return nil, err
	}
	out := make([]*Consumer, 0, len(rows))
	for _, r := range rows {
		c, err := view(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Get loads one consumer of a project.
func (s *Service) Get(ctx context.Context, projectID, id string) (*Consumer, error) {
	r, err := s.st.Reader().ConsumerByID(ctx, projectID, id)
	if err != nil {
		return nil, err
	}
	return view(r)
}

// Update changes a consumer. A new auth object replaces the old one; on
// the same type a secret left out is kept. Changing to basic generates a
// new username and secret, shown in the answer this once.
func (s *Service) Update(ctx context.Context, p *account.Principal, projectID, id string, in Input, cl account.Client) (*Consumer, error) {
	var out *Consumer
	err := s.st.InTx(ctx, func(q *store.Q) error {
		if err := recheck(ctx, q, projectID, p); err != nil {
			return err
		}
		prev, err := q.ConsumerByID(ctx, projectID, id)
		if err != nil {
			return err
		}
		next := *prev
		var ps problems
		detail := map[string]any{}
		if in.Name != nil {
			if n := checkName(in.Name, &ps); n != "" && n != prev.Name {
				detail["name"] = map[string]string{"before": prev.Name, "after": n}
				next.Name = n
			}
		}
		newSecret, secretChange := "", false
		if in.Auth != nil {
			var prevSettings Settings
			_ = json.Unmarshal([]byte(prev.Auth), &prevSettings)
			keep := prev.Secret != "" || prev.SecretHash != ""
			settings, secret := parseAuth(in.Auth, keep, prev.AuthType, &ps)
			a := marshal(settings)
			if a != prev.Auth {
				detail["auth"] = map[string]json.RawMessage{"before": json.RawMessage(prev.Auth), "after": json.RawMessage(a)}
				next.Auth, next.AuthType = a, settings.Type
			}
			if settings.Type != prev.AuthType || secret != "" {
				secretChange, newSecret = true, secret
			}
			if settings.Type == AuthJWT && !isHS(firstOr(settings.Algorithms)) && prev.Secret != "" {
				secretChange = true // became public-key: the HS secret goes
			}
			if settings.Type != prev.AuthType {
				next.Username = ""
				if settings.Type == AuthBasic {
					next.Username = newUsername()
				}
			}
		}
		if in.AllowedIPs != nil {
			ips := checkCIDRs(*in.AllowedIPs, &ps)
			if ips == nil {
				ips = []string{}
			}
			if a := marshal(ips); a != prev.AllowedIPs {
				detail["allowed_ips"] = map[string]json.RawMessage{"before": json.RawMessage(prev.AllowedIPs), "after": json.RawMessage(a)}
				next.AllowedIPs = a
			}
		}
		if in.RateLimit != nil {
			r := checkRate(in.RateLimit, &ps)
			if r.PerSecond != prev.RatePerSec || r.Burst != prev.RateBurst {
				detail["rate_limit"] = map[string]RateLimit{"before": {PerSecond: prev.RatePerSec, Burst: prev.RateBurst}, "after": r}
				next.RatePerSec, next.RateBurst = r.PerSecond, r.Burst
			}
		}
		if in.Flows != nil {
			uniq, err := checkFlows(ctx, q, projectID, *in.Flows, &ps)
			if err != nil {
				return err
			}
			if a := marshal(uniq); uniq != nil && a != prev.Flows {
				detail["flows"] = map[string]json.RawMessage{"before": json.RawMessage(prev.Flows), "after": json.RawMessage(a)}
				next.Flows = a
			}
		}
		if err := ps.err(); err != nil {
			return err
		}
		generated := ""
		if secretChange {
			if generated, err = s.setSecret(&next, newSecret); err != nil {
				return err
			}
			detail["secret_changed"] = true
		}
		if len(detail) > 0 {
			if err := q.UpdateConsumer(ctx, &next); err != nil {
				return err
			}
			detail["name_now"] = next.Name
			if _, err := audit.Append(ctx, q, event(p, cl, projectID, ActionUpdate, "consumer:"+id, detail)); err != nil {
				return err
			}
		}
		c, err := view(&next)
		if err != nil {
			return err
		}
		c.Secret = generated
		out = c
		return nil
	})
	s.changed(projectID)
	return out, err
}

func firstOr(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[0]
}

// ErrNoGeneratedSecret: the consumer's secret is not one Sluice generates.
var ErrNoGeneratedSecret = &connection.ValidationError{Problems: []connection.Problem{{Field: "auth",
	Message: "this consumer's key is given by you (a JWT secret or public key): change it with PATCH and a new auth object"}}}

// RotateSecret generates a new secret for a Basic or HMAC consumer and
// returns it this once; the old one stops working at once.
func (s *Service) RotateSecret(ctx context.Context, p *account.Principal, projectID, id string, cl account.Client) (*Consumer, error) {
	var out *Consumer
	err := s.st.InTx(ctx, func(q *store.Q) error {
		if err := recheck(ctx, q, projectID, p); err != nil {
			return err
		}
		prev, err := q.ConsumerByID(ctx, projectID, id)
		if err != nil {
			return err
		}
		if prev.AuthType == AuthJWT {
			return ErrNoGeneratedSecret
		}
		next := *prev
		gen, err := s.setSecret(&next, "")
		if err != nil {
			return err
		}
		if err := q.UpdateConsumer(ctx, &next); err != nil {
			return err
		}
		if _, err := audit.Append(ctx, q, event(p, cl, projectID, ActionSecret, "consumer:"+id, map[string]any{"name": prev.Name})); err != nil {
			return err
		}
		c, err := view(&next)
		if err != nil {
			return err
		}
		c.Secret = gen
		out = c
		return nil
	})
	s.changed(projectID)
	return out, err
}

// Delete removes a consumer and its secret.
func (s *Service) Delete(ctx context.Context, p *account.Principal, projectID, id string, cl account.Client) error {
	err := s.st.InTx(ctx, func(q *store.Q) error {
		if err := recheck(ctx, q, projectID, p); err != nil {
			return err
		}
		c, err := q.ConsumerByID(ctx, projectID, id)
		if err != nil {
			return err
		}
		if err := q.DeleteConsumer(ctx, projectID, id); err != nil {
			return err
		}
		_, err = audit.Append(ctx, q, event(p, cl, projectID, ActionDelete, "consumer:"+id, map[string]any{"name": c.Name}))
		return err
	})
	s.changed(projectID)
	return err
}

// SecretColumns is the consumers table's sealed column for key rotation:
// a JWT HS or HMAC secret, bound to AAD{consumers, <id>, secret}.
func SecretColumns() secrets.Columns {
	return secrets.Columns{Table: "consumers", ID: "id", Term: "secret_term", Secrets: []string{"secret"}}
}
