package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// fakeResolver answers from a table and records every name it is asked, so
// tests can prove that address literals never reach it. Successive lookups
// of one name walk through its answers, the last one repeating, to play a
// DNS server that rebinds.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	asked   []string
}

func newFakeResolver(answers map[string][]string) *fakeResolver {
	r := &fakeResolver{answers: map[string][][]netip.Addr{}}
	for name, list := range answers {
		r.add(name, list...)
	}
	return r
}

// add appends one answer for name.
func (r *fakeResolver) add(name string, addrs ...string) {
	var as []netip.Addr
	for _, a := range addrs {
		as = append(as, netip.MustParseAddr(a))
	}
	r.answers[name] = append(r.answers[name], as)
}

func (r *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, host)
	key := strings.TrimSuffix(strings.ToLower(host), ".")
	list := r.answers[key]
	if len(list) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	answer := list[0]
	if len(list) > 1 {
		r.answers[key] = list[1:]
	}
	var out []netip.Addr
	for _, a := range answer {
		switch {
		case network == "ip4" && !a.Unmap().Is4(), network == "ip6" && a.Unmap().Is4():
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

func (r *fakeResolver) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.asked...)
}

// guardDialer stands in for the network. In pipe mode it connects nothing
// and answers every address with one end of a net.Pipe. Otherwise it really
// dials loopback addresses (for httptest servers) and fails the test for any
// other address: the guard should have refused it before asking. Either way
// it records what it was asked and fails the test when that is not an IP
// literal, which would mean the guard let a name through to be resolved
// again.
type guardDialer struct {
	t    *testing.T
	pipe bool

	mu     sync.Mutex
	dialed []string
}

func (d *guardDialer) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, addr)
	d.mu.Unlock()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		d.t.Errorf("guard handed %q to the dialer: not an IP:port, so it would be resolved again", addr)
		return nil, err
	}
	if d.pipe {
		c1, c2 := net.Pipe()
		d.t.Cleanup(func() { c1.Close(); c2.Close() })
		return c1, nil
	}
	if !ap.Addr().IsLoopback() {
		d.t.Errorf("would have sent a packet to %s", addr)
		return nil, errors.New("test dialer: refusing to leave loopback")
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func (d *guardDialer) addrs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dialed...)
}

// testResolverAnswers is the DNS the dial tests see.
var testResolverAnswers = map[string][]string{
	"public.example":        {"1.1.1.1"},
	"dual.example":          {"2606:4700::1111", "1.1.1.1"},
	"internal.example":      {"10.0.0.5"},
	"mixed.example":         {"1.1.1.1", "10.0.0.6"},
	"mapped.example":        {"::ffff:10.0.0.7"},
	"nat64.example":         {"64:ff9b::a00:8"},
	"erp.internal":          {"10.1.2.3"},
	"db.example":            {"10.9.9.9"},
	"erp.corp.example":      {"192.168.5.5"},
	"corp.example":          {"192.168.5.6"},
	"loop.example":          {"127.0.0.1"},
	"metadata.example":      {"169.254.169.254"},
	"127.0.0.1.nip.example": {"127.0.0.1"},
}

func TestDialContext(t *testing.T) {
	type tc struct {
		name      string
		allow     []string
		loopback  bool
		network   string // "tcp" when empty
		addr      string
		wantDial  string   // the one address dialed; empty means refused
		wantIP    string   // EgressError.IP when refused; empty means none
		reason    string   // substring of EgressError.Reason
		fix       string   // substring of EgressError.Fix
		wantAsked []string // names the resolver must have been asked, nothing else
	}
	metadata := "cloud metadata endpoint"
	tests := []tc{
		// The cloud metadata address in every spelling from the issue.
		{name: "metadata dotted", addr: "169.254.169.254:80", wantIP: "169.254.169.254", reason: metadata, fix: "exactly 169.254.169.254/32"},
		{name: "metadata decimal", addr: "2852039166:80", wantIP: "169.254.169.254", reason: "non-standard form", fix: "write it as 169.254.169.254"},
		{name: "metadata hex", addr: "0xa9fea9fe:80", wantIP: "169.254.169.254", reason: "non-standard form"},
		{name: "metadata hex upper case", addr: "0XA9FEA9FE:80", wantIP: "169.254.169.254", reason: "non-standard form"},
		{name: "metadata octal", addr: "0251.0376.0251.0376:80", wantIP: "169.254.169.254", reason: "non-standard form"},
		{name: "metadata dotted hex", addr: "0xa9.0xfe.0xa9.0xfe:80", wantIP: "169.254.169.254", reason: "non-standard form"},
		{name: "metadata mixed forms", addr: "0xa9.254.0251.0376:80", wantIP: "169.254.169.254", reason: "non-standard form"},
		{name: "metadata three parts", addr: "169.254.43518:80", wantIP: "169.254.169.254", reason: "non-standard form"},
		{name: "metadata two parts", addr: "169.16689662:80", wantIP: "169.254.169.254", reason: "non-standard form"},
		{name: "metadata trailing dot", addr: "169.254.169.254.:80", wantIP: "169.254.169.254", reason: "non-standard form"},
		{name: "metadata hex trailing dot", addr: "0xa9fea9fe.:80", wantIP: "169.254.169.254", reason: "non-standard form"},
		{name: "metadata mapped hex", addr: "[::ffff:a9fe:a9fe]:80", wantIP: "169.254.169.254", reason: metadata},
		{name: "metadata mapped dotted", addr: "[::ffff:169.254.169.254]:80", wantIP: "169.254.169.254", reason: metadata},
		{name: "metadata mapped long form", addr: "[0:0:0:0:0:ffff:a9fe:a9fe]:80", wantIP: "169.254.169.254", reason: metadata},
		{name: "metadata aws ipv6", addr: "[fd00:ec2::254]:80", wantIP: "fd00:ec2::254", reason: metadata},
		{name: "metadata via nat64", addr: "[64:ff9b::a9fe:a9fe]:80", wantIP: "64:ff9b::a9fe:a9fe", reason: metadata + " (169.254.169.254) embedded"},
		{name: "metadata via 6to4", addr: "[2002:a9fe:a9fe::1]:80", wantIP: "2002:a9fe:a9fe::1", reason: metadata},
		{name: "metadata ipv4-compatible", addr: "[::169.254.169.254]:80", wantIP: "::a9fe:a9fe", reason: "reserved"},
		{name: "metadata alibaba", addr: "100.100.100.200:80", wantIP: "100.100.100.200", reason: metadata},
		{name: "metadata azure wireserver", addr: "168.63.129.16:80", wantIP: "168.63.129.16", reason: metadata},
		{name: "metadata ecs", addr: "169.254.170.2:80", wantIP: "169.254.170.2", reason: metadata},
		{name: "metadata name", addr: "metadata.example:80", wantIP: "169.254.169.254", reason: metadata, wantAsked: []string{"metadata.example"}},
		{name: "metadata by name entry stays shut", allow: []string{"metadata.example"}, addr: "metadata.example:80", wantIP: "169.254.169.254", reason: metadata, wantAsked: []string{"metadata.example"}},
		{name: "metadata by range entry stays shut", allow: []string{"169.254.0.0/16"}, addr: "169.254.169.254:80", wantIP: "169.254.169.254", reason: metadata},
		{name: "metadata by exact entry", allow: []string{"169.254.169.254"}, addr: "169.254.169.254:80", wantDial: "169.254.169.254:80"},

		// Loopback in its disguises.
		{name: "loopback", addr: "127.0.0.1:80", wantIP: "127.0.0.1", reason: "loopback", fix: "add 127.0.0.1/32"},
		{name: "loopback other", addr: "127.9.9.9:80", wantIP: "127.9.9.9", reason: "loopback"},
		{name: "loopback short", addr: "127.1:80", wantIP: "127.0.0.1", reason: "non-standard form"},
		{name: "loopback octal", addr: "0177.0.0.1:80", wantIP: "127.0.0.1", reason: "non-standard form"},
		{name: "loopback decimal", addr: "2130706433:80", wantIP: "127.0.0.1", reason: "non-standard form"},
		{name: "loopback hex", addr: "0x7f000001:80", wantIP: "127.0.0.1", reason: "non-standard form"},
		{name: "loopback hex short", addr: "0x7f.1:80", wantIP: "127.0.0.1", reason: "non-standard form"},
		{name: "loopback ipv6", addr: "[::1]:80", wantIP: "::1", reason: "loopback"},
		{name: "loopback mapped", addr: "[::ffff:127.0.0.1]:80", wantIP: "127.0.0.1", reason: "loopback"},
		{name: "localhost", addr: "localhost:80", wantIP: "::1", reason: "loopback", fix: "add localhost"},
		{name: "localhost upper case fqdn", addr: "LOCALHOST.:80", wantIP: "::1", reason: "loopback"},
		{name: "localhost subdomain", addr: "foo.localhost:80", wantIP: "::1", reason: "loopback", fix: "add foo.localhost"},
		{name: "localhost subdomain mixed case", addr: "a.b.LocalHost.:80", wantIP: "::1", reason: "loopback"},
		{name: "name resolving to loopback", addr: "127.0.0.1.nip.example:80", wantIP: "127.0.0.1", reason: "loopback", wantAsked: []string{"127.0.0.1.nip.example"}},
		{name: "name entry does not open loopback", allow: []string{"loop.example"}, addr: "loop.example:80", wantIP: "127.0.0.1", reason: "loopback", fix: "never opens loopback", wantAsked: []string{"loop.example"}},
		{name: "loopback by cidr entry", allow: []string{"127.0.0.0/8"}, addr: "loop.example:80", wantDial: "127.0.0.1:80", wantAsked: []string{"loop.example"}},
		{name: "loopback by instance setting", loopback: true, addr: "127.0.0.1:8080", wantDial: "127.0.0.1:8080"},
		{name: "localhost by instance setting", loopback: true, addr: "localhost:8080", wantDial: "127.0.0.1:8080"},
		{name: "localhost by entry", allow: []string{"localhost"}, addr: "localhost:8080", wantDial: "127.0.0.1:8080"},
		{name: "localhost by one address entry", allow: []string{"::1"}, addr: "localhost:8080", wantDial: "[::1]:8080"},
		{name: "localhost wildcard entry", allow: []string{"*.localhost"}, addr: "app.localhost:8080", wantDial: "127.0.0.1:8080"},

		// Private and other non-public ranges.
		{name: "short private", addr: "10.1:80", wantIP: "10.0.0.1", reason: "non-standard form"},
		{name: "octal looks private is public", addr: "010.0.0.1:80", wantIP: "8.0.0.1", reason: "non-standard form"},
		{name: "private 10", addr: "10.0.0.1:80", wantIP: "10.0.0.1", reason: "private", fix: "add 10.0.0.1/32 to the project's egress allowlist"},
		{name: "private 172.16", addr: "172.16.0.1:80", wantIP: "172.16.0.1", reason: "private"},
		{name: "private 172.31", addr: "172.31.255.255:80", wantIP: "172.31.255.255", reason: "private"},
		{name: "private 192.168", addr: "192.168.1.1:80", wantIP: "192.168.1.1", reason: "private"},
		{name: "cgnat", addr: "100.64.0.1:80", wantIP: "100.64.0.1", reason: "carrier-grade NAT"},
		{name: "link-local", addr: "169.254.1.1:80", wantIP: "169.254.1.1", reason: "link-local"},
		{name: "link-local ipv6", addr: "[fe80::1]:80", wantIP: "fe80::1", reason: "link-local"},
		{name: "zoned ipv6", addr: "[fe80::1%eth0]:80", wantIP: "fe80::1", reason: "zone"},
		{name: "unique-local", addr: "[fd12:3456::1]:80", wantIP: "fd12:3456::1", reason: "unique-local"},
		{name: "unique-local fc", addr: "[fc00::1]:80", wantIP: "fc00::1", reason: "unique-local"},
		{name: "unspecified", addr: "0.0.0.0:80", wantIP: "0.0.0.0", reason: "unspecified"},
		{name: "unspecified zero", addr: "0:80", wantIP: "0.0.0.0", reason: "non-standard form"},
		{name: "this network", addr: "0.1.2.3:80", wantIP: "0.1.2.3", reason: "unspecified"},
		{name: "unspecified ipv6", addr: "[::]:80", wantIP: "::", reason: "unspecified"},
		{name: "unspecified even when listed", allow: []string{"0.0.0.0/0"}, addr: "0.0.0.0:80", wantIP: "0.0.0.0", reason: "unspecified"},
		{name: "multicast", addr: "224.0.0.1:80", wantIP: "224.0.0.1", reason: "multicast"},
		{name: "multicast even when listed", allow: []string{"224.0.0.0/4"}, addr: "239.1.1.1:80", wantIP: "239.1.1.1", reason: "multicast"},
		{name: "multicast ipv6", addr: "[ff02::1]:80", wantIP: "ff02::1", reason: "multicast"},
		{name: "broadcast", addr: "255.255.255.255:80", wantIP: "255.255.255.255", reason: "broadcast"},
		{name: "reserved 240/4", addr: "240.0.0.1:80", wantIP: "240.0.0.1", reason: "reserved"},
		{name: "documentation", addr: "192.0.2.1:80", wantIP: "192.0.2.1", reason: "documentation"},
		{name: "documentation ipv6", addr: "[2001:db8::1]:80", wantIP: "2001:db8::1", reason: "documentation"},
		{name: "teredo", addr: "[2001::1]:80", wantIP: "2001::1", reason: "reserved"},
		{name: "6to4 of private", addr: "[2002:a00:1::1]:80", wantIP: "2002:a00:1::1", reason: "private address (10.0.0.1) embedded"},
		{name: "nat64 of private", addr: "[64:ff9b::10.0.0.1]:80", wantIP: "64:ff9b::a00:1", reason: "private address (10.0.0.1) embedded", fix: "add 10.0.0.1/32"},
		{name: "not a valid address", addr: "256.1.1.1:80", reason: "not a valid one"},
		{name: "five parts", addr: "1.2.3.4.5:80", reason: "not a valid one"},
		{name: "numeric last label", addr: "foo.123:80", reason: "not a valid one"},
		{name: "empty host", addr: ":80", reason: "empty host"},
		{name: "bad name", addr: "bad_host!:80", reason: "not a valid host name"},
		{name: "non-ascii name", addr: "bücher.example:80", reason: "not a valid host name"},
		{name: "bad ipv6", addr: "[::ffff:1.2.3]:80", reason: "not a valid IP address"},

		// Names checked after resolution.
		{name: "name resolving private", addr: "internal.example:80", wantIP: "10.0.0.5", reason: "private", fix: "add 10.0.0.5/32 or internal.example to the project's egress allowlist", wantAsked: []string{"internal.example"}},
		{name: "one public one private answer", addr: "mixed.example:80", wantIP: "10.0.0.6", reason: "private", wantAsked: []string{"mixed.example"}},
		{name: "mapped private answer", addr: "mapped.example:80", wantIP: "10.0.0.7", reason: "private", wantAsked: []string{"mapped.example"}},
		{name: "nat64 private answer", addr: "nat64.example:80", wantIP: "64:ff9b::a00:8", reason: "private", wantAsked: []string{"nat64.example"}},
		{name: "public name", addr: "public.example:443", wantDial: "1.1.1.1:443", wantAsked: []string{"public.example"}},
		{name: "public literal", addr: "8.8.8.8:53", wantDial: "8.8.8.8:53"},
		{name: "public ipv6 literal", addr: "[2606:4700::1111]:443", wantDial: "[2606:4700::1111]:443"},
		{name: "public mapped literal dialed as ipv4", addr: "[::ffff:8.8.8.8]:53", wantDial: "8.8.8.8:53"},
		{name: "public name tcp4", network: "tcp4", addr: "dual.example:443", wantDial: "1.1.1.1:443", wantAsked: []string{"dual.example"}},
		{name: "public name tcp6", network: "tcp6", addr: "dual.example:443", wantDial: "[2606:4700::1111]:443", wantAsked: []string{"dual.example"}},

		// The allowlist.
		{name: "cidr entry literal", allow: []string{"10.0.0.0/8"}, addr: "10.1.2.3:5432", wantDial: "10.1.2.3:5432"},
		{name: "cidr entry resolved name", allow: []string{"10.0.0.0/8"}, addr: "db.example:5432", wantDial: "10.9.9.9:5432", wantAsked: []string{"db.example"}},
		{name: "cidr entry elsewhere", allow: []string{"10.0.0.0/8"}, addr: "192.168.1.1:80", wantIP: "192.168.1.1", reason: "private"},
		{name: "name entry", allow: []string{"erp.internal"}, addr: "erp.internal:443", wantDial: "10.1.2.3:443", wantAsked: []string{"erp.internal"}},
		{name: "name entry any case fqdn", allow: []string{"ERP.Internal."}, addr: "Erp.INTERNAL.:443", wantDial: "10.1.2.3:443", wantAsked: []string{"Erp.INTERNAL."}},
		{name: "name entry for another name", allow: []string{"erp.internal"}, addr: "internal.example:443", wantIP: "10.0.0.5", reason: "private", wantAsked: []string{"internal.example"}},
		{name: "name entry does not open literal", allow: []string{"erp.internal"}, addr: "10.1.2.3:443", wantIP: "10.1.2.3", reason: "private"},
		{name: "wildcard entry", allow: []string{"*.corp.example"}, addr: "erp.corp.example:443", wantDial: "192.168.5.5:443", wantAsked: []string{"erp.corp.example"}},
		{name: "wildcard entry skips apex", allow: []string{"*.corp.example"}, addr: "corp.example:443", wantIP: "192.168.5.6", reason: "private", wantAsked: []string{"corp.example"}},
		{name: "ipv6 cidr entry", allow: []string{"fd00:1::/64"}, addr: "[fd00:1::5]:443", wantDial: "[fd00:1::5]:443"},
		{name: "mapped cidr entry", allow: []string{"::ffff:10.0.0.0/104"}, addr: "10.2.3.4:443", wantDial: "10.2.3.4:443"},
		{name: "ipv4 entry opens nat64 form", allow: []string{"10.0.0.0/8"}, addr: "[64:ff9b::a00:5]:443", wantDial: "[64:ff9b::a00:5]:443"},
		{name: "ipv4 entry opens mapped form", allow: []string{"10.1.2.3"}, addr: "[::ffff:10.1.2.3]:443", wantDial: "10.1.2.3:443"},
		{name: "odd form refused even when listed", allow: []string{"10.0.0.0/8"}, addr: "10.1:443", wantIP: "10.0.0.1", reason: "non-standard form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newFakeResolver(testResolverAnswers)
			dialer := &guardDialer{t: t, pipe: true}
			p, err := NewEgressPolicy(EgressOptions{Allow: tt.allow, AllowLoopback: tt.loopback, Resolver: res, Dial: dialer.Dial})
			if err != nil {
				t.Fatal(err)
			}
			network := tt.network
			if network == "" {
				network = "tcp"
			}
			conn, err := p.DialContext(context.Background(), network, tt.addr)
			if conn != nil {
				conn.Close()
			}
			dialed := dialer.addrs()
			if asked := res.names(); strings.Join(asked, ",") != strings.Join(tt.wantAsked, ",") {
				t.Errorf("resolver asked %q, want %q", asked, tt.wantAsked)
			}
			if tt.wantDial != "" {
				if err != nil {
					t.Fatalf("DialContext(%q) refused: %v", tt.addr, err)
				}
				if len(dialed) != 1 || dialed[0] != tt.wantDial {
					t.Fatalf("dialed %q, want exactly %q", dialed, tt.wantDial)
				}
				return
			}
			if len(dialed) != 0 {
				t.Errorf("refused target was dialed: %q", dialed)
			}
			var ee *EgressError
			if !errors.As(err, &ee) {
				t.Fatalf("err = %v (%T), want *EgressError", err, err)
			}
			var wantIP netip.Addr
			if tt.wantIP != "" {
				wantIP = netip.MustParseAddr(tt.wantIP)
			}
			if ee.IP != wantIP {
				t.Errorf("IP = %v, want %v", ee.IP, wantIP)
			}
			if !strings.Contains(ee.Reason, tt.reason) {
				t.Errorf("Reason = %q, want it to contain %q", ee.Reason, tt.reason)
			}
			if !strings.Contains(ee.Fix, tt.fix) {
				t.Errorf("Fix = %q, want it to contain %q", ee.Fix, tt.fix)
			}
		})
	}
}
