package netguard

import (
	"fmt"
	"net/netip"
)

// EgressError says that the egress guard refused an outbound connection,
// before any packet was sent. Callers branch on it with errors.As, for
// instance to tell a user in a connection test that the policy, not the
// network, stopped the call.
type EgressError struct {
	// Host is the host as the caller asked for it: a name such as
	// "erp.internal", or the address literal as written ("0x7f000001").
	Host string
	// IP is the address that was refused; for a name, the resolved address
	// that failed the check. It is the zero Addr when the host could not be
	// read as an address at all.
	IP netip.Addr
	// Reason is a short description of what the address is ("private
	// address", "cloud metadata endpoint").
	Reason string
	// Fix says how to allow the connection, such as "add 10.1.2.3/32 or
	// erp.internal to the project's egress allowlist"; it is empty when no
	// setting can allow it.
	Fix string
}

// Error reads as one sentence: what was refused, why, and how to allow it.
func (e *EgressError) Error() string {
	target := fmt.Sprintf("%q", e.Host)
	if e.IP.IsValid() && e.IP.String() != e.Host {
		target += " (" + e.IP.String() + ")"
	}
	msg := "egress to " + target + " refused: " + e.Reason
	if e.Fix != "" {
		return msg + "; " + e.Fix
	}
	return msg + "; no setting allows it"
}
