package consumer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/store"
)

// AuthError is a refused call. Status is what the HTTP layer answers: 401
// (with WWW-Authenticate and nothing more), 403 (authenticated, but not
// for this flow or from this address) or 429 (too many failures from the
// client's address; RetryAfter says how long). Reason is for the server
// log only: it never holds a credential, and it is never sent.
type AuthError struct {
	Status     int
	Reason     string
	RetryAfter time.Duration
}

func (e *AuthError) Error() string { return fmt.Sprintf("consumer auth: %d: %s", e.Status, e.Reason) }

// WWWAuthenticate is the challenge a 401 carries.
const WWWAuthenticate = `Bearer realm="sluice", Basic realm="sluice", charset="UTF-8"`

func unauthorized(reason string) *AuthError {
	return &AuthError{Status: http.StatusUnauthorized, Reason: reason}
}

func forbidden(reason string) *AuthError {
	return &AuthError{Status: http.StatusForbidden, Reason: reason}
}

// Limits of credentials.
const (
	// MaxTokenBytes bounds a JWT (and so any Authorization header).
	MaxTokenBytes = 8 << 10
	maxKidLen     = 256
	// maxCandidates bounds how many consumers one unidentified credential
	// (a JWT without a known kid, an HMAC signature) is tried against.
	maxCandidates = 50
)

// Verifier authenticates calls of service consumers.
type Verifier struct {
	st     *store.Store
	sealer Sealer
	// JWKSClient is the HTTP client that fetches a project's JWKS documents;
	// it must go through the project's egress guard
	// (connection.GuardedNetwork.Policy(...).HTTPClient).
	JWKSClient func(ctx context.Context, projectID string) (*http.Client, error)
	// ClientIP is the caller's address (behind trusted proxies, the
	// forwarded one); nil uses the request's RemoteAddr.
	ClientIP func(r *http.Request) netip.Addr
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives failed authentications (never the credential).
	Log *slog.Logger
	// Throttle counts failures per client address and locks it out.
	Throttle *auth.Throttle
	// ConsumerTTL is how long a project's consumers, loaded at once, are
	// served from memory (by Now); zero means DefaultConsumerTTL (1 s).
	// A change made through this node's Service takes effect at once (its
	// OnChange calls Forget); one made on another node, within ConsumerTTL.
	ConsumerTTL time.Duration

	jwks   jwksCache
	tokens tokenCache
	snaps  snapshotCache
}

// NewVerifier builds a Verifier with a throttle of 20 failures a minute
// per address, escalating to 15-minute lockouts.
func NewVerifier(st *store.Store, sealer Sealer) *Verifier {
	v := &Verifier{st: st, sealer: sealer, Log: slog.Default()}
	v.Throttle = auth.NewThrottle(20, time.Minute, 15*time.Minute, func() time.Time { return v.now() })
	return v
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) clientIP(r *http.Request) netip.Addr {
	if v.ClientIP != nil {
		if a := v.ClientIP(r); a.IsValid() {
			return a.Unmap()
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// Authenticate finds the consumer a call's credentials belong to and
// verifies them, then checks that the consumer may call flowID from the
// client's address. Credentials are, in this order: an Authorization
// header (Basic: the username names the consumer; Bearer: a JWT, tried
// against the project's JWT consumers whose pinned algorithms include the
// token's alg — only those whose JWKS holds the token's kid when it has
// one — so no lookup key is ever a path or query), else a webhook
// signature header (X-Shopify-Hmac-Sha256, X-Hub-Signature-256, or a
// generic consumer's header) over body, tried against the project's HMAC
// consumers of that style. Every refusal is an *AuthError.
func (v *Verifier) Authenticate(ctx context.Context, projectID, flowID string, r *http.Request, body []byte) (*Consumer, error) {
	ip := v.clientIP(r)
	ipKey := "consumer-ip:" + ip.String()
	if ok, retry := v.Throttle.Allow(ipKey); !ok {
		return nil, &AuthError{Status: http.StatusTooManyRequests, Reason: "too many failed authentications from " + ip.String(), RetryAfter: retry}
	}
	c, blame, err := v.identify(ctx, projectID, r, body)
	if err != nil {
		var ae *AuthError
		if !errors.As(err, &ae) {
			return nil, err // the store failed: a 500, not a refusal
		}
		v.Throttle.Fail(ipKey)
		if blame != nil {
			if cerr := v.st.Writer().AddConsumerFailure(ctx, projectID, blame.ID); cerr != nil {
				v.Log.ErrorContext(ctx, "consumer: count failed authentication", "consumer", blame.ID, "error", cerr)
			}
		}
		attrs := []any{"project", projectID, "flow", flowID, "ip", ip.String(), "reason", ae.Reason}
		if blame != nil {
			attrs = append(attrs, "consumer", blame.ID, "consumer_name", blame.Name)
		}
		v.Log.WarnContext(ctx, "consumer: authentication failed", attrs...)
		return nil, err
	}
	if !slices.Contains(c.Flows, flowID) {
		return nil, forbidden(fmt.Sprintf("consumer %q may not call flow %s", c.Row.Name, flowID))
	}
	if len(c.AllowedIPs) > 0 && !slices.ContainsFunc(c.AllowedIPs, func(p netip.Prefix) bool { return p.Contains(ip) }) {
		return nil, forbidden(fmt.Sprintf("consumer %q may not call from %s", c.Row.Name, ip))
	}
	return c, nil
}

// identify verifies the credentials. blame is the consumer a failure is
// counted against, when the credentials named one.
func (v *Verifier) identify(ctx context.Context, projectID string, r *http.Request, body []byte) (*Consumer, *store.Consumer, error) {
	authz := r.Header.Values("Authorization")
	if len(authz) > 1 {
		return nil, nil, unauthorized("more than one Authorization header")
	}
	if len(authz) == 1 {
		h := authz[0]
		if len(h) > MaxTokenBytes+len("Bearer ") {
			return nil, nil, unauthorized("Authorization header over 8 KiB")
		}
		scheme, rest, _ := strings.Cut(h, " ")
		switch {
		case strings.EqualFold(scheme, "Basic"):
			return v.basic(ctx, projectID, rest)
		case strings.EqualFold(scheme, "Bearer"):
			return v.bearer(ctx, projectID, rest)
		}
		return nil, nil, unauthorized("unknown Authorization scheme")
	}
	return v.signed(ctx, projectID, r, body)
}

// ParseBasic reads the credentials of a Basic Authorization header's
// value after the scheme (RFC 7617): one base64 token68 whose decoding is
// UTF-8 "user-id:password" without control characters; the user-id has no
// colon, the password may.
func ParseBasic(token string) (user, pass string, ok bool) {
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(token)
	if err != nil || !utf8.Valid(raw) {
		return "", "", false
	}
	for _, r := range string(raw) {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return "", "", false
		}
	}
	user, pass, found := strings.Cut(string(raw), ":")
	if !found || user == "" {
		return "", "", false
	}
	return user, pass, true
}

func (v *Verifier) basic(ctx context.Context, projectID, token string) (*Consumer, *store.Consumer, error) {
	user, pass, ok := ParseBasic(token)
	if !ok {
		return nil, nil, unauthorized("malformed Basic credentials")
	}
	snap, err := v.consumers(ctx, projectID)
	if err != nil {
		return nil, nil, err
	}
	e := snap.byUsername[user]
	if e == nil {
		// Same work as a known user, so timing does not tell them apart.
		subtle.ConstantTimeCompare([]byte(hashSecret(pass)), []byte(hashSecret("")))
		return nil, nil, unauthorized("unknown Basic username")
	}
	if e.row.AuthType != AuthBasic || subtle.ConstantTimeCompare([]byte(hashSecret(pass)), []byte(e.row.SecretHash)) != 1 {
		return nil, e.row, unauthorized("wrong Basic secret")
	}
	if e.err != nil {
		return nil, nil, e.err
	}
	return e.c, nil, nil
}

// header is the part of a JWS header Sluice reads before verifying. jwk,
// jku, x5u and x5c are never read: keys come only from the consumer.
type header struct {
	Alg  string          `json:"alg"`
	Kid  *string         `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

func readHeader(token string) (*header, error) {
	if len(token) > MaxTokenBytes {
		return nil, errors.New("token over 8 KiB")
	}
	part, _, ok := strings.Cut(token, ".")
	if !ok || strings.Count(token, ".") != 2 {
		return nil, errors.New("not a compact JWS (three dot-separated parts)")
	}
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return nil, errors.New("header is not base64url")
	}
	var h header
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&h); err != nil {
		return nil, errors.New("header is not a JSON object")
	}
	if strings.EqualFold(h.Alg, "none") || h.Alg == "" {
		return nil, errors.New("alg none or missing")
	}
	if len(h.Crit) > 0 && string(h.Crit) != "null" {
		// RFC 7515 §4.1.11: Sluice understands no extension, so any
		// critical one makes the token invalid.
		return nil, errors.New("crit header names an extension Sluice does not understand")
	}
	if h.Kid != nil && (len(*h.Kid) > maxKidLen || !utf8.ValidString(*h.Kid)) {
		return nil, errors.New("kid too long or not UTF-8")
	}
	return &h, nil
}

func (v *Verifier) bearer(ctx context.Context, projectID, token string) (*Consumer, *store.Consumer, error) {
	token = strings.TrimSpace(token)
	if len(token) > MaxTokenBytes {
		return nil, nil, unauthorized("bad JWT: token over 8 KiB")
	}
	snap, err := v.consumers(ctx, projectID)
	if err != nil {
		return nil, nil, err
	}
	// A token in the cache verified whole (its header included) and its
	// consumer is unchanged since: it needs no parsing again.
	sum := sha256.Sum256([]byte(projectID + "\x00" + token))
	if c, ok, err := v.tokens.get(v, snap, projectID, sum); err != nil || ok {
		return c, nil, err
	}
	h, err := readHeader(token)
	if err != nil {
		return nil, nil, unauthorized("bad JWT: " + err.Error())
	}
	var candidates []*Consumer
	for _, e := range snap.all {
		if e.row.AuthType != AuthJWT {
			continue
		}
		if e.err != nil {
			return nil, nil, e.err
		}
		if c := e.c; slices.Contains(c.Settings.Algorithms, h.Alg) {
			candidates = append(candidates, c)
		}
		if len(candidates) == maxCandidates {
			break
		}
	}
	if len(candidates) == 0 {
		return nil, nil, unauthorized("no JWT consumer of the project allows alg " + truncate(h.Alg, 20))
	}
	var last error
	for _, c := range candidates {
		keys, err := v.jwtKeys(ctx, projectID, c, h)
		if err != nil {
			last = err
			continue
		}
		for _, key := range keys {
			until, err := v.verifyJWT(c, token, key)
			if err == nil {
				v.tokens.put(sum, c.Row, until)
				return c, nil, nil
			}
			last = err
		}
	}
	var blame *store.Consumer
	if len(candidates) == 1 {
		blame = candidates[0].Row
	}
	reason := "JWT not valid for any consumer"
	if last != nil {
		reason += ": " + last.Error()
	}
	return nil, blame, unauthorized(reason)
}

// jwtKeys is the keys of c that may verify a token with header h: the HS
// secret (as []byte, the only form the HMAC methods accept), the PEM
// public key, or the JWKS key with the token's kid (all keys when it has
// none).
func (v *Verifier) jwtKeys(ctx context.Context, projectID string, c *Consumer, h *header) ([]any, error) {
	if isHS(h.Alg) {
		if c.Row.Secret == "" {
			return nil, errors.New("consumer has no HS secret")
		}
		plain, err := v.sealer.OpenFor(c.Row.Secret, "consumers", c.Row.ID, "secret")
		if err != nil {
			return nil, fmt.Errorf("unseal consumer secret: %w", err)
		}
		return []any{plain}, nil
	}
	var pub []crypto.PublicKey
	if c.Settings.PublicKey != "" {
		k, err := parsePublicKey(c.Settings.PublicKey)
		if err != nil {
			return nil, err
		}
		pub = append(pub, k)
	} else {
		ks, err := v.jwksKeys(ctx, projectID, c, h.Kid)
		if err != nil {
			return nil, err
		}
		pub = ks
	}
	var out []any
	for _, k := range pub {
		if keyFits(k, h.Alg) {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no key of the consumer fits alg " + h.Alg)
	}
	return out, nil
}

// jwksKeys looks a kid up in the consumer's cached JWKS, fetching it when
// absent or older than jwksTTL, and again on an unknown kid at most once
// per jwksMinRefresh. The kid is only a map key.
func (v *Verifier) jwksKeys(ctx context.Context, projectID string, c *Consumer, kid *string) ([]crypto.PublicKey, error) {
	// One lock per consumer: a slow JWKS endpoint holds up only its own
	// consumer's calls.
	v.jwks.mu.Lock()
	if v.jwks.slots == nil {
		v.jwks.slots = map[string]*jwksSlot{}
	}
	slot := v.jwks.slots[c.Row.ID]
	if slot == nil {
		slot = &jwksSlot{}
		v.jwks.slots[c.Row.ID] = slot
	}
	v.jwks.mu.Unlock()
	slot.mu.Lock()
	defer slot.mu.Unlock()
	set := slot.set
	now := v.now()
	lookup := func() []crypto.PublicKey {
		if set == nil {
			return nil
		}
		if kid != nil {
			if k, ok := set.keys[*kid]; ok {
				return []crypto.PublicKey{k}
			}
			return nil
		}
		out := make([]crypto.PublicKey, 0, len(set.keys))
		for _, k := range set.keys {
			out = append(out, k)
		}
		return out
	}
	stale := set == nil || set.url != c.Settings.JWKSURL || now.Sub(set.fetched) > jwksTTL
	if keys := lookup(); !stale && len(keys) > 0 {
		return keys, nil
	}
	if !stale && now.Sub(set.fetched) < jwksMinRefresh {
		return nil, errors.New("kid not in the JWKS (refetched less than a minute ago)")
	}
	if v.JWKSClient == nil {
		return nil, errors.New("no JWKS client configured")
	}
	client, err := v.JWKSClient(ctx, projectID)
	if err != nil {
		return nil, fmt.Errorf("JWKS client: %w", err)
	}
	keys, err := fetchJWKS(ctx, client, c.Settings.JWKSURL)
	if err != nil {
		// Keep serving the old keys; try again after jwksMinRefresh.
		if set != nil {
			set.fetched = now
		} else {
			slot.set = &jwksSet{url: c.Settings.JWKSURL, keys: map[string]crypto.PublicKey{}, fetched: now}
		}
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	set = &jwksSet{url: c.Settings.JWKSURL, keys: keys, fetched: now}
	slot.set = set
	if ks := lookup(); len(ks) > 0 {
		return ks, nil
	}
	return nil, errors.New("kid not in the JWKS")
}

// verifyJWT checks the signature with key under the consumer's pinned
// algorithms, then exp (required), nbf, iat, iss, aud and the maximum
// age, with the consumer's leeway (at most 60 s).
// It returns until when the token stays valid (exp, or the end of its
// maximum age, plus the leeway).
func (v *Verifier) verifyJWT(c *Consumer, token string, key any) (time.Time, error) {
	s := c.Settings
	leeway := time.Duration(min(s.LeewaySeconds, maxLeewaySeconds)) * time.Second
	opts := []jwt.ParserOption{jwt.WithValidMethods(s.Algorithms), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway), jwt.WithTimeFunc(v.now), jwt.WithStrictDecoding()}
	if s.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(s.Issuer))
	}
	if s.Audience != "" {
		opts = append(opts, jwt.WithAudience(s.Audience))
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(opts...).ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		switch k := key.(type) {
		case []byte:
			if !isHS(alg) {
				return nil, errors.New("HS secret offered for a public-key alg")
			}
			return k, nil
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			if isHS(alg) || !keyFits(k, alg) {
				return nil, errors.New("public key offered for alg " + alg)
			}
			return k, nil
		}
		return nil, errors.New("unusable key")
	})
	if err != nil {
		return time.Time{}, err
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return time.Time{}, errors.New("exp required")
	}
	until := exp.Add(leeway)
	if s.MaxAgeSeconds > 0 {
		iat, err := claims.GetIssuedAt()
		if err != nil || iat == nil {
			return time.Time{}, errors.New("iat required by the consumer's maximum token age")
		}
		end := iat.Add(time.Duration(s.MaxAgeSeconds)*time.Second + leeway)
		if v.now().After(end) {
			return time.Time{}, errors.New("token older than the consumer's maximum age")
		}
		if end.Before(until) {
			until = end
		}
	}
	return until, nil
}

// Webhook signature headers.
const (
	HeaderShopify = "X-Shopify-Hmac-Sha256"
	HeaderGitHub  = "X-Hub-Signature-256"
)

// signed checks a webhook signature over the raw body, before anything
// parses it: Shopify's base64 HMAC-SHA256 of the body, GitHub's "sha256="
// hex of it, or the generic form, the hex or base64 HMAC-SHA256 of
// "<timestamp>.<body>" with the Unix timestamp in the consumer's timestamp
// header, within its maximum skew of now.
func (v *Verifier) signed(ctx context.Context, projectID string, r *http.Request, body []byte) (*Consumer, *store.Consumer, error) {
	snap, err := v.consumers(ctx, projectID)
	if err != nil {
		return nil, nil, err
	}
	var candidates []*Consumer
	for _, e := range snap.all {
		if e.row.AuthType != AuthHMAC {
			continue
		}
		if e.err != nil {
			return nil, nil, e.err
		}
		if c := e.c; r.Header.Get(signatureHeader(c.Settings)) != "" {
			candidates = append(candidates, c)
		}
		if len(candidates) == maxCandidates {
			break
		}
	}
	if len(candidates) == 0 {
		return nil, nil, unauthorized("no credentials")
	}
	reason := "webhook signature does not match"
	for _, c := range candidates {
		secret, err := v.sealer.OpenFor(c.Row.Secret, "consumers", c.Row.ID, "secret")
		if err != nil {
			return nil, nil, fmt.Errorf("unseal consumer secret: %w", err)
		}
		ok, why := v.checkSignature(c.Settings, secret, r.Header, body)
		if ok {
			return c, nil, nil
		}
		if why != "" {
			reason = why
		}
	}
	var blame *store.Consumer
	if len(candidates) == 1 {
		blame = candidates[0].Row
	}
	return nil, blame, unauthorized(reason)
}

func signatureHeader(s Settings) string {
	switch s.Style {
	case StyleShopify:
		return HeaderShopify
	case StyleGitHub:
		return HeaderGitHub
	}
	return s.Header
}

// checkSignature compares in constant time.
func (v *Verifier) checkSignature(s Settings, secret []byte, h http.Header, body []byte) (bool, string) {
	mac := hmac.New(sha256.New, secret)
	got := strings.TrimSpace(h.Get(signatureHeader(s)))
	switch s.Style {
	case StyleShopify:
		mac.Write(body)
		sig, err := base64.StdEncoding.DecodeString(got)
		return err == nil && hmac.Equal(sig, mac.Sum(nil)), ""
	case StyleGitHub:
		hexSig, ok := strings.CutPrefix(got, "sha256=")
		sig, err := hex.DecodeString(hexSig)
		mac.Write(body)
		return ok && err == nil && hmac.Equal(sig, mac.Sum(nil)), ""
	}
	ts := strings.TrimSpace(h.Get(s.TimestampHeader))
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false, "generic webhook timestamp missing or not Unix seconds"
	}
	skew := v.now().Sub(time.Unix(sec, 0))
	if skew < 0 {
		skew = -skew
	}
	if skew > time.Duration(s.MaxSkewSeconds)*time.Second {
		return false, "generic webhook timestamp outside the allowed skew"
	}
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	if sig, err := hex.DecodeString(got); err == nil && len(sig) == sha256.Size {
		return hmac.Equal(sig, want), ""
	}
	sig, err := base64.StdEncoding.DecodeString(got)
	return err == nil && hmac.Equal(sig, want), ""
}

// Headers sets the headers a refusal's answer carries: WWW-Authenticate on
// a 401, Retry-After (whole seconds, at least 1) on a 429. The body should
// say no more than the status does.
func (e *AuthError) Headers(h http.Header) {
	switch e.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", WWWAuthenticate)
	case http.StatusTooManyRequests:
		h.Set("Retry-After", strconv.Itoa(max(1, int((e.RetryAfter+time.Second-1)/time.Second))))
	}
}
