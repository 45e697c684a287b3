package netguard

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies is the set of reverse proxies whose X-Forwarded-For header
// is believed. Anyone can send that header, so it only counts when the TCP
// peer itself is one of these proxies; otherwise a client could pick its own
// address and slip past IP allowlists and per-IP throttling.
//
// A nil or empty TrustedProxies trusts nobody, which is the safe default.
type TrustedProxies struct {
	prefixes []netip.Prefix
}

// ParseTrustedProxies parses a comma-separated list of CIDRs ("10.0.0.0/8",
// "fd00::/8") or bare addresses ("192.0.2.10", "::1"). Blank entries are
// skipped so that a trailing comma is harmless; anything else that does not
// parse is an error naming the entry, because silently dropping a proxy
// would make every request behind it look like it came from the proxy.
func ParseTrustedProxies(list string) (*TrustedProxies, error) {
	t := &TrustedProxies{}
	for _, raw := range strings.Split(list, ",") {
		entry := strings.TrimSpace(raw)
		if entry == "" {
			continue
		}
		p, err := parseProxyEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("trusted proxies: entry %q is neither an IP address nor a CIDR such as 10.0.0.0/8 or fd00::/8: %w", entry, err)
		}
		t.prefixes = append(t.prefixes, p)
	}
	return t, nil
}

func parseProxyEntry(entry string) (netip.Prefix, error) {
	if strings.Contains(entry, "/") {
		p, err := netip.ParsePrefix(entry)
		if err != nil {
			return netip.Prefix{}, err
		}
		// An IPv4 network written in IPv6 form would never match, because
		// addresses are unmapped before the lookup; refuse it rather than
		// let the operator believe it works.
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("write IPv4 networks in IPv4 form")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(entry)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("zoned addresses are not supported")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Contains reports whether a is one of the trusted proxies.
func (t *TrustedProxies) Contains(a netip.Addr) bool {
	if t == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Len reports how many entries the list holds; zero means nobody is trusted.
func (t *TrustedProxies) Len() int {
	if t == nil {
		return 0
	}
	return len(t.prefixes)
}

// ClientIP returns the address of the client that sent r. It starts from the
// TCP peer (r.RemoteAddr) and, only while the address in hand is a trusted
// proxy, steps one hop left through X-Forwarded-For. Walking from the right
// matters: each proxy appends what it saw, so only the rightmost entries were
// written by machines we trust, while the leftmost ones are whatever the
// client claimed. A malformed entry stops the walk at the last address that
// was well formed.
//
// It returns the zero netip.Addr when RemoteAddr itself cannot be parsed.
func (t *TrustedProxies) ClientIP(r *http.Request) netip.Addr {
	peer := peerAddr(r.RemoteAddr)
	if !peer.IsValid() || !t.Contains(peer) {
		return peer
	}
	// Several X-Forwarded-For lines count as one list in order (RFC 9110
	// §5.3), so join them before walking.
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	current := peer
	for i := len(hops) - 1; i >= 0; i-- {
		entry := strings.TrimSpace(hops[i])
		a, err := netip.ParseAddr(entry)
		if err != nil || a.Zone() != "" {
			return current
		}
		current = a.Unmap()
		if !t.Contains(current) {
			return current
		}
	}
	// Every hop was a trusted proxy: the leftmost is the best we know.
	return current
}

// peerAddr parses "host:port" as the net/http server fills RemoteAddr, and
// also a bare address, which tests and some adapters use.
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}
