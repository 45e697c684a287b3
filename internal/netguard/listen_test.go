package netguard

import "testing"

func TestIsLoopbackAddr(t *testing.T) {
	tests := []struct {
		name    string
		addr    string
		want    bool
		wantErr bool
	}{
		{name: "v4 loopback", addr: "127.0.0.1:8080", want: true},
		{name: "other 127/8", addr: "127.5.6.7:8080", want: true},
		{name: "v6 loopback", addr: "[::1]:8080", want: true},
		{name: "localhost", addr: "localhost:8080", want: true},
		{name: "localhost any case", addr: "LocalHost:8080", want: true},
		{name: "mapped loopback", addr: "[::ffff:127.0.0.1]:8080", want: true},
		{name: "empty host", addr: ":8080", want: false},
		{name: "v4 unspecified", addr: "0.0.0.0:8080", want: false},
		{name: "v6 unspecified", addr: "[::]:8080", want: false},
		{name: "private address", addr: "10.0.0.1:8080", want: false},
		{name: "other name", addr: "sluice.example:8080", want: false},
		{name: "localhost lookalike", addr: "localhost.evil.example:8080", want: false},
		{name: "no port", addr: "127.0.0.1", wantErr: true},
		{name: "bad port", addr: "127.0.0.1:http", wantErr: true},
		{name: "port too big", addr: "127.0.0.1:70000", wantErr: true},
		{name: "empty", addr: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := IsLoopbackAddr(tt.addr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("IsLoopbackAddr(%q) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}
