package connection

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/sluice-dev/sluice/internal/netguard"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/store"
)

// AuthFunc stacks an http connection's auth signer on a base transport.
// auth holds the plain fields and the secret ones together; onRefresh
// persists a rotated OAuth 2.0 refresh token.
type AuthFunc func(ctx context.Context, auth map[string]any, baseURL string, base http.RoundTripper, onRefresh func(ctx context.Context, token string) error) (http.RoundTripper, error)

// GuardedNetwork reaches other systems only through the egress guard: the
// instance-wide allowlist plus the project's own.
type GuardedNetwork struct {
	st *store.Store
	// InstanceAllow is --egress-allow.
	InstanceAllow []string
	// Auth builds the auth signer of http connections.
	Auth AuthFunc
	// Resolver and Dial replace the guard's defaults (tests).
	Resolver netguard.Resolver
	Dial     netguard.DialFunc
	// SaveSecrets persists a connection's secrets after an OAuth 2.0
	// refresh token rotated.
	SaveSecrets func(ctx context.Context, c *Connection, sec Secrets) error
}

// NewGuardedNetwork builds the network of a store's projects.
func NewGuardedNetwork(st *store.Store, instanceAllow []string, auth AuthFunc) *GuardedNetwork {
	return &GuardedNetwork{st: st, InstanceAllow: instanceAllow, Auth: auth}
}

// Policy is the egress policy of a project: the instance allowlist plus
// the project's. A network without a store (`sluice run`) has no
// projects: its policy is the instance allowlist alone.
func (n *GuardedNetwork) Policy(ctx context.Context, projectID string) (*netguard.EgressPolicy, error) {
	allow := append([]string{}, n.InstanceAllow...)
	if n.st != nil {
		pr, err := n.st.Reader().ProjectByID(ctx, projectID)
		if err != nil {
			return nil, err
		}
		settings, err := project.ParseSettings(pr.Settings)
		if err != nil {
			return nil, err
		}
		allow = append(allow, settings.EgressAllowlist...)
	}
	return netguard.NewEgressPolicy(netguard.EgressOptions{Allow: allow, Resolver: n.Resolver, Dial: n.Dial,
		SensitiveHeaders: []string{"X-Api-Key", "Api-Key"}})
}

// Dialer is the guarded dialer of a project, for database drivers.
func (n *GuardedNetwork) Dialer(ctx context.Context, projectID string) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	p, err := n.Policy(ctx, projectID)
	if err != nil {
		return nil, err
	}
	return p.DialContext, nil
}

// HTTPClient is the client of an http connection: guarded transport, the
// connection's TLS settings, and its auth signer on top.
func (n *GuardedNetwork) HTTPClient(ctx context.Context, projectID string, c *Connection, sec Secrets) (*http.Client, error) {
	client, err := n.baseClient(ctx, projectID, c, sec)
	if err != nil {
		return nil, err
	}
	if n.Auth != nil {
		auth := mergeAuthSecrets(c.Auth, sec)
		base, _ := c.Settings["base_url"].(string)
		onRefresh := func(ctx context.Context, token string) error {
			if n.SaveSecrets == nil {
				return nil
			}
			next := Secrets{}
			for k, v := range sec {
				next[k] = v
			}
			next["auth.refresh_token"] = secrets.NewValue(token)
			return n.SaveSecrets(ctx, c, next)
		}
		rt, err := n.Auth(ctx, auth, base, client.Transport, onRefresh)
		if err != nil {
			return nil, err
		}
		client.Transport = rt
	}
	return client, nil
}

// Classify names a refused destination.
func (n *GuardedNetwork) Classify(err error) (string, string) {
	var eg *netguard.EgressError
	if errors.As(err, &eg) {
		return "egress", eg.Error()
	}
	return "", ""
}

// baseClient is the guarded client with the connection's TLS settings.
func (n *GuardedNetwork) baseClient(ctx context.Context, projectID string, c *Connection, sec Secrets) (*http.Client, error) {
	p, err := n.Policy(ctx, projectID)
	if err != nil {
		return nil, err
	}
	var opts netguard.ClientTLSOptions
	if t, ok := c.Settings["tls"].(map[string]any); ok {
		if s, ok := t["ca_pem"].(string); ok {
			opts.CABundlePEM = []byte(s)
		}
		if s, ok := t["client_cert_pem"].(string); ok {
			opts.ClientCertPEM = []byte(s)
		}
		opts.InsecureSkipVerify, _ = t["insecure_skip_verify"].(bool)
	}
	if k := sec.get("secrets.tls_client_key_pem"); k != "" {
		opts.ClientKeyPEM = []byte(k)
	}
	tlsCfg, err := netguard.ClientTLSConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("settings.tls: %w", err)
	}
	return p.HTTPClient(tlsCfg, durationSetting(c, "timeout", 30*time.Second)), nil
}

// BaseTransport is the guarded transport with the connection's TLS
// settings and no auth.
func (n *GuardedNetwork) BaseTransport(ctx context.Context, projectID string, c *Connection, sec Secrets) (http.RoundTripper, error) {
	client, err := n.baseClient(ctx, projectID, c, sec)
	if err != nil {
		return nil, err
	}
	return client.Transport, nil
}
