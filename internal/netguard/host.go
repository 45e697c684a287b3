package netguard

import (
	"net/netip"
	"strconv"
	"strings"
)

// hostKind is what a dial target's host turned out to be.
type hostKind int

const (
	hostName      hostKind = iota // a DNS name to resolve
	hostIP                        // a canonical IP literal
	hostLocalhost                 // localhost or *.localhost: loopback by definition
)

// parsedHost is a dial target's host, read without any lookup.
type parsedHost struct {
	kind hostKind
	ip   netip.Addr // for hostIP
	name string     // for hostName and hostLocalhost: lower case, no trailing dot
}

// parseHost reads host the way the guard must: anything a resolver or the C
// library could take for an IP address is decided here, so that
// "0x7f000001" or "127.1" is never handed to a resolver that might turn it
// into 127.0.0.1 behind the guard's back. It returns an *EgressError for a
// host that must not be dialed whatever the policy says.
func parseHost(host string) (parsedHost, error) {
	if host == "" {
		// net.Dial reads an empty host as the local system.
		return parsedHost{}, &EgressError{Host: host, Reason: "empty host, which would reach this machine", Fix: "name the host to connect to"}
	}
	if strings.ContainsAny(host, ":%") {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return parsedHost{}, &EgressError{Host: host, Reason: "not a valid IP address", Fix: "write a host name or a valid IP address"}
		}
		if a.Zone() != "" {
			return parsedHost{}, &EgressError{Host: host, IP: a.WithZone(""), Reason: "IPv6 address with a zone, which is not supported", Fix: "write the address without %zone"}
		}
		return parsedHost{kind: hostIP, ip: a.Unmap()}, nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return parsedHost{kind: hostIP, ip: a}, nil
	}
	name := strings.ToLower(host)
	if before, ok := strings.CutSuffix(name, "."); ok {
		name = before
	}
	if endsInNumber(name) {
		// The C library's inet_aton, and the WHATWG URL parser, read
		// "2130706433", "0x7f.1" and "0177.0.0.1" as IPv4 addresses. Name
		// the address it denotes, and refuse the odd spelling either way:
		// no one needs it, and parsers disagree about some forms.
		if a, ok := parseLegacyIPv4(name); ok {
			return parsedHost{}, &EgressError{Host: host, IP: a, Reason: "IP address written in a non-standard form", Fix: "write it as " + a.String() + " (which the allowlist must still allow)"}
		}
		return parsedHost{}, &EgressError{Host: host, Reason: "looks like an IP address but is not a valid one", Fix: "write a host name or a valid IP address"}
	}
	if !validHostname(name) {
		return parsedHost{}, &EgressError{Host: host, Reason: "not a valid host name", Fix: "write an ASCII host name (punycode for international names) or an IP address"}
	}
	if isLocalhostName(name) {
		return parsedHost{kind: hostLocalhost, name: name}, nil
	}
	return parsedHost{kind: hostName, name: name}, nil
}

// isLocalhostName reports whether name (lower case, no trailing dot) is
// localhost or under .localhost, which RFC 6761 reserves for loopback.
func isLocalhostName(name string) bool {
	return name == "localhost" || strings.HasSuffix(name, ".localhost")
}

// endsInNumber reports whether the last label of name is all decimal digits
// or 0x followed by hex digits: the WHATWG URL rule for "this host is meant
// as an IPv4 address". No top-level domain is numeric, so no real name is
// caught by it.
func endsInNumber(name string) bool {
	last := name[strings.LastIndexByte(name, '.')+1:]
	if last == "" {
		return false
	}
	if strings.Trim(last, "0123456789") == "" {
		return true
	}
	if rest, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(rest, "0123456789abcdef") == ""
	}
	return false
}

// parseLegacyIPv4 parses the forms inet_aton accepts: one to four parts,
// each decimal, octal (leading 0) or hex (0x), the last part filling all
// remaining bytes ("127.1" is 127.0.0.1, "10.1" is 10.0.0.1).
func parseLegacyIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals []uint64
	for _, p := range parts {
		v, ok := parseLegacyPart(p)
		if !ok {
			return netip.Addr{}, false
		}
		vals = append(vals, v)
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (8 * (3 - i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

func parseLegacyPart(p string) (uint64, bool) {
	base := 10
	switch {
	case p == "":
		return 0, false
	case strings.HasPrefix(p, "0x"):
		base, p = 16, p[2:]
		if p == "" {
			return 0, true // inet_aton and WHATWG both read a bare 0x as zero
		}
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	v, err := strconv.ParseUint(p, base, 32)
	return v, err == nil
}

// validHostname reports whether name (lower case, no trailing dot) is a
// syntactically valid DNS name: labels of 1 to 63 letters, digits, hyphens
// or underscores (found in real internal names), 253 characters at most.
func validHostname(name string) bool {
	if len(name) == 0 || len(name) > 253 {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
