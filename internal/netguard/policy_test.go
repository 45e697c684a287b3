package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestNewEgressPolicyEntries(t *testing.T) {
	tests := []struct {
		name    string
		allow   []string
		wantErr string // substring; empty means success
	}{
		{name: "none", allow: nil},
		{name: "blank entries skipped", allow: []string{"", "  "}},
		{name: "all kinds", allow: []string{"10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1", "erp.internal", "*.corp.example", "ERP2.Internal.", "sap_host.corp"}},
		{name: "host bits masked", allow: []string{"10.1.2.3/8"}},
		{name: "mapped cidr", allow: []string{"::ffff:10.0.0.0/104"}},
		{name: "mapped cidr too wide", allow: []string{"::ffff:0:0/80"}, wantErr: `"::ffff:0:0/80" mixes IPv4-mapped`},
		{name: "bad prefix length", allow: []string{"10.0.0.0/33"}, wantErr: `"10.0.0.0/33" is not a valid CIDR`},
		{name: "zoned address", allow: []string{"fe80::1%eth0"}, wantErr: `"fe80::1%eth0" has a zone`},
		{name: "host and port", allow: []string{"erp.internal:443"}, wantErr: `"erp.internal:443" is not a valid IPv6 address`},
		{name: "url", allow: []string{"https://erp.internal/"}, wantErr: `"https://erp.internal/"`},
		{name: "odd ipv4 form", allow: []string{"0x7f000001"}, wantErr: `"0x7f000001" is an IP address in a non-standard form`},
		{name: "short ipv4 form", allow: []string{"10.1"}, wantErr: `"10.1" is an IP address in a non-standard form`},
		{name: "bare wildcard", allow: []string{"*"}, wantErr: `"*" is neither`},
		{name: "inner wildcard", allow: []string{"erp.*.example"}, wantErr: `"erp.*.example" is neither`},
		{name: "empty label", allow: []string{"erp..internal"}, wantErr: `"erp..internal" is neither`},
		{name: "first bad entry named", allow: []string{"10.0.0.0/8", "bad entry"}, wantErr: `entry "bad entry"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEgressPolicy(EgressOptions{Allow: tt.allow, Resolver: newFakeResolver(nil), Dial: (&guardDialer{t: t}).Dial})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %s", err, tt.wantErr)
			}
		})
	}
}

func TestNewEgressPolicyDefaults(t *testing.T) {
	p, err := NewEgressPolicy(EgressOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.resolver != net.DefaultResolver {
		t.Errorf("resolver = %T, want net.DefaultResolver", p.resolver)
	}
	if p.dial == nil {
		t.Error("no default dialer")
	}
	want := []string{"Authorization", "Proxy-Authorization", "Cookie"}
	if strings.Join(p.sensitive, ",") != strings.Join(want, ",") {
		t.Errorf("sensitive headers = %q, want %q", p.sensitive, want)
	}
}

func TestClassifyPublic(t *testing.T) {
	// The edges of the refused ranges, seen from outside, and the forms
	// that carry a public IPv4 address.
	tests := []struct {
		name string
		addr string
		want addrClass
	}{
		{name: "public v4", addr: "1.1.1.1", want: classPublic},
		{name: "just below 10/8", addr: "9.255.255.255", want: classPublic},
		{name: "just above 10/8", addr: "11.0.0.0", want: classPublic},
		{name: "just above 172.16/12", addr: "172.32.0.1", want: classPublic},
		{name: "just below 172.16/12", addr: "172.15.255.255", want: classPublic},
		{name: "just above cgnat", addr: "100.128.0.1", want: classPublic},
		{name: "just below 224/4", addr: "223.255.255.255", want: classPublic},
		{name: "public v6", addr: "2606:4700::1111", want: classPublic},
		{name: "6to4 of public", addr: "2002:101:101::1", want: classPublic},
		{name: "nat64 of public", addr: "64:ff9b::101:101", want: classPublic},
		{name: "mapped public", addr: "::ffff:1.1.1.1", want: classPublic},
		{name: "outside 2000::/3", addr: "4000::1", want: classReserved},
		{name: "local nat64", addr: "64:ff9b:1::1", want: classReserved},
		{name: "discard-only", addr: "100::1", want: classReserved},
		{name: "site-local", addr: "fec0::1", want: classReserved},
		{name: "documentation 3fff", addr: "3fff::1", want: classDocumentation},
		{name: "benchmarking", addr: "198.18.0.1", want: classDocumentation},
		{name: "oracle metadata", addr: "192.0.0.192", want: classMetadata},
		{name: "eks pod identity v6", addr: "fd00:ec2::23", want: classMetadata},
		{name: "ietf protocol assignments", addr: "192.0.0.8", want: classReserved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := classify(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Fatalf("classify(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestDNSRebindingCannotSlipPast(t *testing.T) {
	// A name that answers a public address to the check and a private one
	// to a second lookup: the guard looks up once per dial and connects to
	// the address it checked, so the second answer is only ever seen by
	// the next dial, which refuses it.
	res := newFakeResolver(nil)
	res.add("rebind.example", "1.1.1.1")
	res.add("rebind.example", "10.0.0.1")
	dialer := &guardDialer{t: t, pipe: true}
	p, err := NewEgressPolicy(EgressOptions{Resolver: res, Dial: dialer.Dial})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := p.DialContext(context.Background(), "tcp", "rebind.example:80")
	if err != nil {
		t.Fatalf("first dial: %v", err)
	}
	conn.Close()
	if got := dialer.addrs(); len(got) != 1 || got[0] != "1.1.1.1:80" {
		t.Fatalf("dialed %q, want the checked address 1.1.1.1:80 and not the name", got)
	}
	if got := res.names(); len(got) != 1 {
		t.Fatalf("resolver asked %d times for one dial, want once", len(got))
	}
	_, err = p.DialContext(context.Background(), "tcp", "rebind.example:80")
	var ee *EgressError
	if !errors.As(err, &ee) || ee.IP != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("second dial err = %v, want an EgressError for 10.0.0.1", err)
	}
	if got := dialer.addrs(); len(got) != 1 {
		t.Fatalf("second dial reached the dialer: %q", got)
	}
}

func TestDialContextTriesEveryCheckedAddress(t *testing.T) {
	res := newFakeResolver(map[string][]string{"two.example": {"1.1.1.1", "1.0.0.1"}})
	var dialed []string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = append(dialed, addr)
		if addr == "1.1.1.1:443" {
			return nil, errors.New("test: connection refused")
		}
		c1, c2 := net.Pipe()
		c2.Close()
		return c1, nil
	}
	p, err := NewEgressPolicy(EgressOptions{Resolver: res, Dial: dial})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := p.DialContext(context.Background(), "tcp", "two.example:443")
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if strings.Join(dialed, ",") != "1.1.1.1:443,1.0.0.1:443" {
		t.Fatalf("dialed %q, want both addresses in order", dialed)
	}
}

func TestDialContextBadInput(t *testing.T) {
	tests := []struct {
		name    string
		network string
		addr    string
		wantErr string
		dnsErr  bool
	}{
		{name: "unix socket", network: "unix", addr: "/var/run/postgresql/.s.PGSQL.5432", wantErr: `network "unix" refused`},
		{name: "udp", network: "udp", addr: "1.1.1.1:53", wantErr: `network "udp" refused`},
		{name: "no port", network: "tcp", addr: "1.1.1.1", wantErr: "want host:port"},
		{name: "service name port", network: "tcp", addr: "1.1.1.1:https", wantErr: "port must be a number"},
		{name: "port zero", network: "tcp", addr: "1.1.1.1:0", wantErr: "port must be a number"},
		{name: "port too big", network: "tcp", addr: "1.1.1.1:65536", wantErr: "port must be a number"},
		{name: "ipv6 literal on tcp4", network: "tcp4", addr: "[2606:4700::1111]:443", wantErr: "does not match network"},
		{name: "unknown name", network: "tcp", addr: "nowhere.example:443", wantErr: `resolve "nowhere.example"`, dnsErr: true},
		{name: "no address of the family", network: "tcp6", addr: "public.example:443", wantErr: "no ip6 address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dialer := &guardDialer{t: t, pipe: true}
			p, err := NewEgressPolicy(EgressOptions{Resolver: newFakeResolver(testResolverAnswers), Dial: dialer.Dial})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.DialContext(context.Background(), tt.network, tt.addr)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) != tt.dnsErr {
				t.Errorf("errors.As(*net.DNSError) = %v, want %v", !tt.dnsErr, tt.dnsErr)
			}
			if got := dialer.addrs(); len(got) != 0 {
				t.Errorf("dialed %q", got)
			}
		})
	}
}

func TestEgressErrorMessage(t *testing.T) {
	res := newFakeResolver(testResolverAnswers)
	p, err := NewEgressPolicy(EgressOptions{Resolver: res, Dial: (&guardDialer{t: t, pipe: true}).Dial})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		addr string
		want string
	}{
		{name: "name", addr: "erp.internal:443", want: `egress to "erp.internal" (10.1.2.3) refused: private address; add 10.1.2.3/32 or erp.internal to the project's egress allowlist`},
		{name: "literal", addr: "10.1.2.3:443", want: `egress to "10.1.2.3" refused: private address; add 10.1.2.3/32 to the project's egress allowlist`},
		{name: "odd form", addr: "0x7f000001:80", want: `egress to "0x7f000001" (127.0.0.1) refused: IP address written in a non-standard form; write it as 127.0.0.1 (which the allowlist must still allow)`},
		{name: "never allowed", addr: "0.0.0.0:80", want: `egress to "0.0.0.0" refused: unspecified address; no setting allows it`},
		{name: "ipv6", addr: "[fd12::1]:80", want: `egress to "fd12::1" refused: unique-local IPv6 address; add fd12::1/128 to the project's egress allowlist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.DialContext(context.Background(), "tcp", tt.addr)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v\nwant  %s", err, tt.want)
			}
		})
	}
}

func TestPassthroughLookup(t *testing.T) {
	got, err := PassthroughLookup(context.Background(), "db.corp.example")
	if err != nil || len(got) != 1 || got[0] != "db.corp.example" {
		t.Fatalf("PassthroughLookup = %q, %v; want the host unchanged", got, err)
	}
}
