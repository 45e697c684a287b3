package api

import (
	"net/http"
	"time"

	"github.com/sluice-dev/sluice/internal/consumer"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// consumerView is a service consumer as answers show it: the plain auth
// settings, whether a secret is set, and the generated secret only in the
// answer of the create or rotation that generated it.
type consumerView struct {
	ID          string             `json:"id"`
	Name        string             `json:"name"`
	Auth        map[string]any     `json:"auth"`
	Flows       []string           `json:"flows"`
	AllowedIPs  []string           `json:"allowed_ips"`
	RateLimit   consumer.RateLimit `json:"rate_limit"`
	FailedAuths int64              `json:"failed_auths"`
	Secret      string             `json:"secret,omitempty"`
	CreatedAt   time.Time          `json:"created_at"`
	UpdatedAt   time.Time          `json:"updated_at"`
}

func viewConsumer(c *consumer.Consumer) consumerView {
	s := c.Settings
	auth := map[string]any{"type": s.Type}
	switch s.Type {
	case consumer.AuthJWT:
		auth["algorithms"] = s.Algorithms
		for k, v := range map[string]string{"public_key": s.PublicKey, "jwks_url": s.JWKSURL, "issuer": s.Issuer, "audience": s.Audience} {
			if v != "" {
				auth[k] = v
			}
		}
		auth["max_age_seconds"] = s.MaxAgeSeconds
		auth["leeway_seconds"] = s.LeewaySeconds
		if c.Row.Secret != "" {
			auth["secret"] = secretSet{Set: true}
		}
	case consumer.AuthBasic:
		auth["username"] = c.Row.Username
		auth["secret"] = secretSet{Set: c.SecretSet}
	case consumer.AuthHMAC:
		auth["style"] = s.Style
		if s.Style == consumer.StyleGeneric {
			auth["header"], auth["timestamp_header"], auth["max_skew_seconds"] = s.Header, s.TimestampHeader, s.MaxSkewSeconds
		}
		auth["secret"] = secretSet{Set: c.SecretSet}
	}
	ips := make([]string, 0, len(c.AllowedIPs))
	for _, p := range c.AllowedIPs {
		ips = append(ips, p.String())
	}
	flows := c.Flows
	if flows == nil {
		flows = []string{}
	}
	return consumerView{ID: c.Row.ID, Name: c.Row.Name, Auth: auth, Flows: flows, AllowedIPs: ips, RateLimit: c.RateLimit,
		FailedAuths: c.Row.FailedAuths, Secret: c.Secret, CreatedAt: c.Row.CreatedAt, UpdatedAt: c.Row.UpdatedAt}
}

// consumerBody is a create or change; auth stays a raw map so every
// unknown or wrong field is named with its path.
type consumerBody struct {
	Name       *string             `json:"name"`
	Auth       map[string]any      `json:"auth"`
	Flows      *[]string           `json:"flows"`
	AllowedIPs *[]string           `json:"allowed_ips"`
	RateLimit  *consumer.RateLimit `json:"rate_limit"`
}

func (b consumerBody) input() consumer.Input {
	return consumer.Input{Name: b.Name, Auth: b.Auth, Flows: b.Flows, AllowedIPs: b.AllowedIPs, RateLimit: b.RateLimit}
}

func (a *API) listConsumers(w http.ResponseWriter, r *http.Request) {
	cs, err := a.Consumers.List(r.Context(), grant(r).Project.ID)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	out := make([]consumerView, 0, len(cs))
	for _, c := range cs {
		out = append(out, viewConsumer(c))
	}
	httpx.WriteJSON(w, http.StatusOK, list("consumers", out))
}

func (a *API) createConsumer(w http.ResponseWriter, r *http.Request) {
	var in consumerBody
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	c, err := a.Consumers.Create(r.Context(), principal(r), grant(r).Project.ID, in.input(), client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, viewConsumer(c))
}

func (a *API) getConsumer(w http.ResponseWriter, r *http.Request) {
	c, err := a.Consumers.Get(r.Context(), grant(r).Project.ID, r.PathValue("c"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewConsumer(c))
}

func (a *API) patchConsumer(w http.ResponseWriter, r *http.Request) {
	var in consumerBody
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	c, err := a.Consumers.Update(r.Context(), principal(r), grant(r).Project.ID, r.PathValue("c"), in.input(), client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewConsumer(c))
}

func (a *API) deleteConsumer(w http.ResponseWriter, r *http.Request) {
	if err := a.Consumers.Delete(r.Context(), principal(r), grant(r).Project.ID, r.PathValue("c"), client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) rotateConsumerSecret(w http.ResponseWriter, r *http.Request) {
	c, err := a.Consumers.RotateSecret(r.Context(), principal(r), grant(r).Project.ID, r.PathValue("c"), client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, viewConsumer(c))
}
