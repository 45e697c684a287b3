package netguard

import "net/netip"

// addrClass is what kind of destination an address is, as far as the egress
// guard cares.
type addrClass int

const (
	classPublic addrClass = iota
	// Opened by an allowlist entry.
	classPrivate
	classSharedCGNAT
	classLinkLocal
	classUniqueLocal
	classReserved
	classDocumentation
	// Opened by AllowLoopback or an address entry, never by a host name:
	// loopback is this very machine, Sluice's own API included.
	classLoopback
	// Opened only by an entry naming exactly that address.
	classMetadata
	// Never opened: no connector has a reason to dial them, and 0.0.0.0
	// reaches this machine on Linux.
	classUnspecified
	classMulticast
	classBroadcast
)

func (c addrClass) String() string {
	switch c {
	case classPublic:
		return "public address"
	case classPrivate:
		return "private address"
	case classSharedCGNAT:
		return "carrier-grade NAT (shared) address"
	case classLinkLocal:
		return "link-local address"
	case classUniqueLocal:
		return "unique-local IPv6 address"
	case classReserved:
		return "reserved or special-purpose address"
	case classDocumentation:
		return "documentation or benchmarking address"
	case classLoopback:
		return "loopback address"
	case classMetadata:
		return "cloud metadata endpoint"
	case classUnspecified:
		return "unspecified address"
	case classMulticast:
		return "multicast address"
	case classBroadcast:
		return "broadcast address"
	}
	return "unknown address class"
}

// metadataAddrs are the instance-metadata endpoints of the big clouds. They
// hand out credentials to whoever asks from the machine, which makes them
// the first target of any SSRF, so a range in the allowlist does not open
// them; only an entry naming exactly the address does.
var metadataAddrs = map[netip.Addr]string{
	netip.MustParseAddr("169.254.169.254"): "AWS, GCP, Azure, Oracle, DigitalOcean",
	netip.MustParseAddr("169.254.170.2"):   "AWS ECS task metadata",
	netip.MustParseAddr("169.254.170.23"):  "AWS EKS pod identity",
	netip.MustParseAddr("fd00:ec2::254"):   "AWS IPv6",
	netip.MustParseAddr("fd00:ec2::23"):    "AWS EKS pod identity IPv6",
	netip.MustParseAddr("100.100.100.200"): "Alibaba Cloud",
	netip.MustParseAddr("168.63.129.16"):   "Azure wireserver",
	netip.MustParseAddr("192.0.0.192"):     "Oracle Cloud (legacy)",
}

type rangeRule struct {
	prefix netip.Prefix
	class  addrClass
}

// v4Rules and v6Rules are searched in order, so a narrow range must come
// before a wider one that holds it. The sources are the IANA special-purpose
// address registries (RFC 6890 and its updates).
var v4Rules = []rangeRule{
	{netip.MustParsePrefix("255.255.255.255/32"), classBroadcast},
	{netip.MustParsePrefix("0.0.0.0/8"), classUnspecified}, // "this network"; 0.0.0.0 dials the local host
	{netip.MustParsePrefix("10.0.0.0/8"), classPrivate},
	{netip.MustParsePrefix("100.64.0.0/10"), classSharedCGNAT},
	{netip.MustParsePrefix("127.0.0.0/8"), classLoopback},
	{netip.MustParsePrefix("169.254.0.0/16"), classLinkLocal},
	{netip.MustParsePrefix("172.16.0.0/12"), classPrivate},
	{netip.MustParsePrefix("192.0.0.0/24"), classReserved}, // IETF protocol assignments
	{netip.MustParsePrefix("192.0.2.0/24"), classDocumentation},
	{netip.MustParsePrefix("192.88.99.0/24"), classReserved}, // 6to4 relay anycast, deprecated
	{netip.MustParsePrefix("192.168.0.0/16"), classPrivate},
	{netip.MustParsePrefix("198.18.0.0/15"), classDocumentation}, // benchmarking
	{netip.MustParsePrefix("198.51.100.0/24"), classDocumentation},
	{netip.MustParsePrefix("203.0.113.0/24"), classDocumentation},
	{netip.MustParsePrefix("224.0.0.0/4"), classMulticast},
	{netip.MustParsePrefix("240.0.0.0/4"), classReserved},
}

var (
	nat64Prefix   = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour     = netip.MustParsePrefix("2002::/16")
	globalUnicast = netip.MustParsePrefix("2000::/3")
)

var v6Rules = []rangeRule{
	{netip.MustParsePrefix("::/128"), classUnspecified},
	{netip.MustParsePrefix("::1/128"), classLoopback},
	{netip.MustParsePrefix("::/96"), classReserved},          // IPv4-compatible, deprecated
	{netip.MustParsePrefix("64:ff9b:1::/48"), classReserved}, // local-use NAT64
	{netip.MustParsePrefix("100::/64"), classReserved},       // discard-only
	{netip.MustParsePrefix("2001:db8::/32"), classDocumentation},
	{netip.MustParsePrefix("3fff::/20"), classDocumentation},
	{netip.MustParsePrefix("2001::/23"), classReserved}, // IETF protocol assignments, Teredo among them
	{netip.MustParsePrefix("fc00::/7"), classUniqueLocal},
	{netip.MustParsePrefix("fe80::/10"), classLinkLocal},
	{netip.MustParsePrefix("fec0::/10"), classReserved}, // site-local, deprecated
	{netip.MustParsePrefix("ff00::/8"), classMulticast},
}

// classify says what kind of destination a is. IPv4-mapped addresses are
// judged as the IPv4 address they carry. For NAT64 (64:ff9b::/96) and 6to4
// (2002::/16) addresses, whose packets end up at the IPv4 address embedded
// in them, the embedded address is returned too and decides the class when
// it is not public.
func classify(a netip.Addr) (class addrClass, embedded netip.Addr) {
	a = a.WithZone("").Unmap()
	if _, ok := metadataAddrs[a]; ok {
		return classMetadata, netip.Addr{}
	}
	if a.Is4() {
		return classify4(a), netip.Addr{}
	}
	if nat64Prefix.Contains(a) {
		b := a.As16()
		embedded = netip.AddrFrom4([4]byte(b[12:16]))
	} else if sixToFour.Contains(a) {
		b := a.As16()
		embedded = netip.AddrFrom4([4]byte(b[2:6]))
	}
	if embedded.IsValid() {
		if c, _ := classify(embedded); c != classPublic {
			return c, embedded
		}
		return classPublic, embedded
	}
	for _, r := range v6Rules {
		if r.prefix.Contains(a) {
			return r.class, netip.Addr{}
		}
	}
	if !globalUnicast.Contains(a) {
		return classReserved, netip.Addr{}
	}
	return classPublic, netip.Addr{}
}

func classify4(a netip.Addr) addrClass {
	for _, r := range v4Rules {
		if r.prefix.Contains(a) {
			return r.class
		}
	}
	return classPublic
}
