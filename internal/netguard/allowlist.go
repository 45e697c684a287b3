package netguard

import (
	"fmt"
	"net/netip"
	"strings"
)

// allowlist is the parsed form of EgressOptions.Allow.
type allowlist struct {
	prefixes  []netip.Prefix // IPv4 networks in IPv4 form
	names     map[string]bool
	wildcards []string // "corp.example" for "*.corp.example"
}

// parseAllowlist parses every entry, naming the first bad one. Blank entries
// are skipped so that a trailing comma in a flag is harmless.
func parseAllowlist(entries []string) (*allowlist, error) {
	al := &allowlist{names: map[string]bool{}}
	for _, raw := range entries {
		entry := strings.TrimSpace(raw)
		if entry == "" {
			continue
		}
		if err := al.add(entry); err != nil {
			return nil, fmt.Errorf("egress allowlist: entry %q %w", entry, err)
		}
	}
	return al, nil
}

func (al *allowlist) add(entry string) error {
	if strings.Contains(entry, "/") {
		p, err := netip.ParsePrefix(entry)
		if err != nil {
			return fmt.Errorf("is not a valid CIDR such as 10.0.0.0/8 or fd00::/8: %w", err)
		}
		if p.Addr().Zone() != "" {
			return fmt.Errorf("has a zone, which CIDRs cannot have")
		}
		if p.Addr().Is4In6() {
			// Addresses are unmapped before the check, so keep mapped
			// networks in IPv4 form or they would never match.
			if p.Bits() < 96 {
				return fmt.Errorf("mixes IPv4-mapped and other IPv6 addresses: write the IPv4 part as an IPv4 CIDR")
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		al.prefixes = append(al.prefixes, p.Masked())
		return nil
	}
	if strings.Contains(entry, ":") {
		a, err := netip.ParseAddr(entry)
		if err != nil {
			return fmt.Errorf("is not a valid IPv6 address (and entries name no ports or URLs): %w", err)
		}
		if a.Zone() != "" {
			return fmt.Errorf("has a zone, which the allowlist does not support")
		}
		a = a.Unmap()
		al.prefixes = append(al.prefixes, netip.PrefixFrom(a, a.BitLen()))
		return nil
	}
	if a, err := netip.ParseAddr(entry); err == nil {
		al.prefixes = append(al.prefixes, netip.PrefixFrom(a, a.BitLen()))
		return nil
	}
	name := strings.TrimSuffix(strings.ToLower(entry), ".")
	wild := false
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		name, wild = rest, true
	}
	if endsInNumber(name) {
		return fmt.Errorf("is an IP address in a non-standard form or not a valid one: write IPv4 addresses as four decimal numbers such as 10.1.2.3")
	}
	if !validHostname(name) {
		return fmt.Errorf("is neither a CIDR, an IP address nor a host name such as erp.internal or *.corp.example")
	}
	if wild {
		al.wildcards = append(al.wildcards, name)
	} else {
		al.names[name] = true
	}
	return nil
}

// allowsName reports whether name (lower case, no trailing dot) is on the
// list, itself or through a wildcard. "*.corp.example" matches
// "erp.corp.example" and "a.b.corp.example" but not "corp.example".
func (al *allowlist) allowsName(name string) bool {
	if al.names[name] {
		return true
	}
	for _, w := range al.wildcards {
		if strings.HasSuffix(name, "."+w) {
			return true
		}
	}
	return false
}

// allowsAddr reports whether a, or the IPv4 address embedded in it, falls in
// a listed network. With exact set, only an entry naming that single
// address counts.
func (al *allowlist) allowsAddr(a, embedded netip.Addr, exact bool) bool {
	for _, p := range al.prefixes {
		if exact && !p.IsSingleIP() {
			continue
		}
		if p.Contains(a) || (embedded.IsValid() && p.Contains(embedded)) {
			return true
		}
	}
	return false
}
