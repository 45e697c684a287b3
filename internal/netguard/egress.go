package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// Resolver looks up the addresses of a host name. *net.Resolver (and so
// net.DefaultResolver) satisfies it; tests inject a fake so that no query
// leaves the machine.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DialFunc opens a connection. It is the shape of net.Dialer.DialContext,
// of pgx's pgconn.Config.DialFunc and of go-sql-driver/mysql's
// Config.DialFunc, so EgressPolicy.DialContext plugs into all of them.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// EgressOptions configures an EgressPolicy.
type EgressOptions struct {
	// Allow opens destinations that are refused by default. Each entry is
	// a CIDR ("10.0.0.0/8", "fd00:1::/64"), a single address ("10.1.2.3"),
	// a host name ("erp.internal") or a wildcard ("*.corp.example", which
	// matches names under corp.example but not corp.example itself). Pass
	// the project's egress allowlist followed by the instance-wide
	// --egress-allow entries. A name opens whatever it resolves to,
	// except loopback and cloud metadata addresses; see EgressPolicy.
	Allow []string
	// AllowLoopback opens 127.0.0.0/8 and ::1, and the names localhost and
	// *.localhost, to everyone: an instance setting for development and
	// tests, never for a shared instance.
	AllowLoopback bool
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
	// Dial connects to an address the policy has already checked, always
	// given as "IP:port"; nil means a net.Dialer with a 10 second connect
	// timeout and 30 second keep-alives.
	Dial DialFunc
	// SensitiveHeaders are request headers, besides Authorization,
	// Proxy-Authorization and Cookie, that CheckRedirect removes when a
	// redirect leaves the original origin, such as "X-API-Key".
	SensitiveHeaders []string
}

// EgressPolicy is the egress guard: it decides which addresses outbound
// connections may reach, and dials only those. Every connection Sluice
// makes on a project's behalf (HTTP, databases, token and JWKS fetches) goes
// through a policy built from that project's allowlist.
//
// By default it refuses everything that is not a public unicast address:
// loopback, private, carrier-grade NAT, link-local, unique-local, reserved
// and documentation ranges, cloud metadata endpoints, unspecified,
// multicast and broadcast addresses, and IPv6 forms that carry one of those
// (IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16). The allowlist then
// opens:
//
//   - a CIDR or address entry: the addresses in it, loopback included;
//   - a host name or wildcard entry: every address that name resolves to,
//     except loopback (which stays this machine, whatever DNS says) and
//     metadata endpoints; the entry "localhost" opens the localhost names;
//   - cloud metadata endpoints: only an entry naming exactly that address;
//   - unspecified, multicast and broadcast addresses: nothing.
//
// An EgressPolicy is safe for concurrent use. Build one per project and
// keep it with the project's clients.
type EgressPolicy struct {
	allow         *allowlist
	allowLoopback bool
	resolver      Resolver
	dial          DialFunc
	sensitive     []string
}

// lookupTimeout bounds a name lookup when the caller's context has no
// deadline, so a silent DNS server cannot hang a run.
const lookupTimeout = 10 * time.Second

// NewEgressPolicy builds a policy from opts. It does no I/O; it returns an
// error naming the first allowlist entry it cannot read.
func NewEgressPolicy(opts EgressOptions) (*EgressPolicy, error) {
	al, err := parseAllowlist(opts.Allow)
	if err != nil {
		return nil, err
	}
	p := &EgressPolicy{
		allow:         al,
		allowLoopback: opts.AllowLoopback,
		resolver:      opts.Resolver,
		dial:          opts.Dial,
		sensitive:     sensitiveHeaders(opts.SensitiveHeaders),
	}
	if p.resolver == nil {
		p.resolver = net.DefaultResolver
	}
	if p.dial == nil {
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		p.dial = d.DialContext
	}
	return p, nil
}

// DialContext connects to addr ("host:port") over network ("tcp", "tcp4"
// or "tcp6"; anything else, Unix sockets included, is refused) if the
// policy allows it. A name is resolved once, every address it resolves to
// is checked, and a single refused address refuses the whole name; the
// connection is then made to a checked IP, never to the name, so DNS
// rebinding between check and dial cannot happen. A refusal is an
// *EgressError, returned before anything is sent.
//
// Plug it into http.Transport (see Transport), pgx
// (pgconn.Config.DialFunc, with LookupFunc set to PassthroughLookup) and
// go-sql-driver/mysql (Config.DialFunc; prefer it to the process-wide
// mysql.RegisterDialContext, since each project has its own policy).
func (p *EgressPolicy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if _, _, err := networkFamily(network); err != nil {
		return nil, err
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("egress: address %q: want host:port: %w", addr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("egress: address %q: port must be a number from 1 to 65535", addr)
	}
	ips, err := p.Resolve(ctx, network, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ip := range ips {
		c, err := p.dial(ctx, network, netip.AddrPortFrom(ip, uint16(port)).String())
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, errors.Join(errs...)
}

// Resolve returns the addresses DialContext would connect to for host over
// network, after checking every one of them: an *EgressError when the
// policy refuses one, the resolver's error (a *net.DNSError from the
// default resolver) when the name does not resolve. Connection tests use it
// to tell a policy refusal from a DNS failure; CheckRedirect uses it to
// refuse a redirect before following it.
func (p *EgressPolicy) Resolve(ctx context.Context, network, host string) ([]netip.Addr, error) {
	family, lookupNet, err := networkFamily(network)
	if err != nil {
		return nil, err
	}
	h, err := parseHost(host)
	if err != nil {
		return nil, err
	}
	var candidates []netip.Addr
	switch h.kind {
	case hostIP:
		candidates = []netip.Addr{h.ip}
	case hostLocalhost:
		// RFC 6761: localhost names are loopback, whatever a resolver
		// says, so do not ask one.
		candidates = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}
	case hostName:
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, lookupTimeout)
			defer cancel()
		}
		candidates, err = p.resolver.LookupNetIP(ctx, lookupNet, host)
		if err != nil {
			return nil, fmt.Errorf("egress: resolve %q: %w", host, err)
		}
	}
	var ips []netip.Addr
	var refused *EgressError
	for _, a := range candidates {
		if !a.IsValid() {
			return nil, fmt.Errorf("egress: resolve %q: resolver returned an invalid address", host)
		}
		// Go's resolver may answer IPv4 in mapped form, and zones mean
		// nothing to the check.
		a = a.Unmap().WithZone("")
		if family == 4 && !a.Is4() || family == 6 && !a.Is6() {
			if h.kind == hostIP {
				return nil, fmt.Errorf("egress: address %s does not match network %q", a, network)
			}
			continue
		}
		if err := p.check(host, h, a); err != nil {
			if h.kind == hostLocalhost {
				// Both loopback addresses are ours; an allowlist
				// that opens one of them is enough.
				refused = err
				continue
			}
			return nil, err
		}
		if !containsAddr(ips, a) {
			ips = append(ips, a)
		}
	}
	if len(ips) == 0 && refused != nil {
		return nil, refused
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("egress: resolve %q: no %s address", host, lookupNet)
	}
	return ips, nil
}

// check decides one address; host is the target as given, h as parsed.
func (p *EgressPolicy) check(host string, h parsedHost, a netip.Addr) *EgressError {
	class, embedded := classify(a)
	refuse := func(fix string) *EgressError {
		reason := class.String()
		if embedded.IsValid() {
			reason += " (" + embedded.String() + ") embedded in an IPv6 address"
		}
		return &EgressError{Host: host, IP: a, Reason: reason, Fix: fix}
	}
	named := h.kind == hostName && p.allow.allowsName(h.name)
	// The address to suggest: an allowlist entry for the embedded IPv4
	// address also opens the IPv6 forms that carry it.
	entry := a
	if embedded.IsValid() {
		entry = embedded
	}
	single := netip.PrefixFrom(entry, entry.BitLen()).String()
	switch class {
	case classPublic:
		return nil
	case classUnspecified, classMulticast, classBroadcast:
		return refuse("")
	case classMetadata:
		if p.allow.allowsAddr(a, embedded, true) {
			return nil
		}
		return refuse("only an allowlist entry naming exactly " + single + " opens a cloud metadata endpoint; a range or host name does not")
	case classLoopback:
		if p.allowLoopback || p.allow.allowsAddr(a, embedded, false) {
			return nil
		}
		if h.kind == hostLocalhost {
			if p.allow.allowsName(h.name) {
				return nil
			}
			return refuse("add " + h.name + " to the project's egress allowlist, or allow loopback egress on the instance (development only)")
		}
		return refuse("add " + single + " to the project's egress allowlist, or allow loopback egress on the instance (development only); a host name entry never opens loopback")
	default:
		if named || p.allow.allowsAddr(a, embedded, false) {
			return nil
		}
		if h.kind == hostName {
			return refuse("add " + single + " or " + h.name + " to the project's egress allowlist")
		}
		return refuse("add " + single + " to the project's egress allowlist")
	}
}

// networkFamily maps a dial network to the address family it allows (0 for
// either) and the matching resolver network.
func networkFamily(network string) (family int, lookupNet string, err error) {
	switch network {
	case "tcp":
		return 0, "ip", nil
	case "tcp4":
		return 4, "ip4", nil
	case "tcp6":
		return 6, "ip6", nil
	}
	return 0, "", fmt.Errorf("egress: network %q refused: only tcp connections go through the egress guard", network)
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	for _, b := range list {
		if a == b {
			return true
		}
	}
	return false
}

// PassthroughLookup returns host unchanged. Set it as pgx's
// pgconn.Config.LookupFunc next to DialFunc = policy.DialContext: pgx then
// hands the name itself to the egress guard, which resolves and checks it,
// instead of resolving first and dialing addresses the guard can no longer
// match against host-name allowlist entries.
func PassthroughLookup(ctx context.Context, host string) ([]string, error) {
	return []string{host}, nil
}
