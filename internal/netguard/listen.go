package netguard

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// IsLoopbackAddr reports whether the listen address "host:port" only accepts
// connections from this machine: 127.0.0.0/8, ::1 or "localhost". Sluice
// refuses plain HTTP on anything else, so an empty host, 0.0.0.0, :: and
// every other name or address answer false; a name other than localhost
// might resolve anywhere, and guessing wrong would expose passwords in clear
// text. It returns an error when addr is not "host:port" with a numeric port.
func IsLoopbackAddr(addr string) (bool, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("listen address %q: want host:port such as 127.0.0.1:8080: %w", addr, err)
	}
	if port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n > 65535 {
			return false, fmt.Errorf("listen address %q: port %q must be a number from 0 to 65535", addr, port)
		}
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false, nil
	}
	return a.Unmap().IsLoopback(), nil
}
