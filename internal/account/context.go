package account

import (
	"context"
	"net/netip"
)

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom is the principal the request was authenticated as, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// ClientOf builds a Client from an address and a user agent.
func ClientOf(ip netip.Addr, userAgent string) Client {
	c := Client{UserAgent: userAgent}
	if ip.IsValid() {
		c.IP = ip.String()
	}
	return c
}
