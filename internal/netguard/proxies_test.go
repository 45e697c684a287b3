package netguard

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		list    string
		wantLen int
		wantErr string // substring; empty means success
	}{
		{name: "empty", list: "", wantLen: 0},
		{name: "blank entries skipped", list: " , 10.0.0.1 ,", wantLen: 1},
		{name: "v4 cidr and ip", list: "10.0.0.0/8,192.0.2.7", wantLen: 2},
		{name: "v6 cidr and ip", list: "fd00::/8, ::1", wantLen: 2},
		{name: "host bits masked", list: "10.1.2.3/8", wantLen: 1},
		{name: "bad entry named", list: "10.0.0.0/8,proxy.example", wantErr: `"proxy.example"`},
		{name: "bad prefix length", list: "10.0.0.0/33", wantErr: `"10.0.0.0/33"`},
		{name: "mapped v4 cidr", list: "::ffff:10.0.0.0/104", wantErr: "IPv4 form"},
		{name: "zoned address", list: "fe80::1%eth0", wantErr: "zoned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := ParseTrustedProxies(tt.list)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tp.Len() != tt.wantLen {
				t.Fatalf("Len() = %d, want %d", tp.Len(), tt.wantLen)
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 2001:db8::/32, 192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		tp     *TrustedProxies
		remote string
		xff    []string
		want   string // "" means the zero Addr
	}{
		{name: "nil list uses peer", tp: nil, remote: "203.0.113.5:1234", xff: []string{"1.2.3.4"}, want: "203.0.113.5"},
		{name: "empty list uses peer", tp: &TrustedProxies{}, remote: "203.0.113.5:1234", xff: []string{"1.2.3.4"}, want: "203.0.113.5"},
		{name: "spoofed xff from untrusted peer ignored", tp: trusted, remote: "203.0.113.5:1234", xff: []string{"10.0.0.9, 1.2.3.4"}, want: "203.0.113.5"},
		{name: "trusted peer without xff", tp: trusted, remote: "10.1.1.1:80", want: "10.1.1.1"},
		{name: "one trusted hop", tp: trusted, remote: "10.1.1.1:80", xff: []string{"198.51.100.7"}, want: "198.51.100.7"},
		{name: "client spoof left of real client ignored", tp: trusted, remote: "10.1.1.1:80", xff: []string{"6.6.6.6, 198.51.100.7"}, want: "198.51.100.7"},
		{name: "chain of trusted proxies skipped", tp: trusted, remote: "10.1.1.1:80", xff: []string{"198.51.100.7, 192.0.2.1, 10.2.2.2"}, want: "198.51.100.7"},
		{name: "multiple header lines joined", tp: trusted, remote: "10.1.1.1:80", xff: []string{"6.6.6.6, 198.51.100.7", "10.2.2.2"}, want: "198.51.100.7"},
		{name: "all hops trusted gives leftmost", tp: trusted, remote: "10.1.1.1:80", xff: []string{"10.3.3.3, 10.2.2.2"}, want: "10.3.3.3"},
		{name: "malformed entry stops walk at peer", tp: trusted, remote: "10.1.1.1:80", xff: []string{"198.51.100.7, garbage"}, want: "10.1.1.1"},
		{name: "malformed entry stops walk at last good", tp: trusted, remote: "10.1.1.1:80", xff: []string{"6.6.6.6, garbage, 10.2.2.2"}, want: "10.2.2.2"},
		{name: "empty entry stops walk", tp: trusted, remote: "10.1.1.1:80", xff: []string{"198.51.100.7,,"}, want: "10.1.1.1"},
		{name: "entry with port is malformed", tp: trusted, remote: "10.1.1.1:80", xff: []string{"198.51.100.7:5555"}, want: "10.1.1.1"},
		{name: "v6 peer and hop", tp: trusted, remote: "[2001:db8::1]:443", xff: []string{"2001:db8::2, 2600::1"}, want: "2600::1"},
		{name: "mapped v4 peer unmapped", tp: trusted, remote: "[::ffff:10.1.1.1]:80", xff: []string{"::ffff:198.51.100.7"}, want: "198.51.100.7"},
		{name: "bare remote address", tp: nil, remote: "198.51.100.7", want: "198.51.100.7"},
		{name: "unparsable remote", tp: trusted, remote: "not-an-address", xff: []string{"1.2.3.4"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got := tt.tp.ClientIP(r)
			var want netip.Addr
			if tt.want != "" {
				want = netip.MustParseAddr(tt.want)
			}
			if got != want {
				t.Fatalf("ClientIP = %v, want %v", got, want)
			}
		})
	}
}
