// Package netguard holds the network-facing safety rules that more than one
// part of Sluice needs: which peers may speak for a client (trusted proxies),
// how the server's TLS is configured, whether a listen address stays on
// this machine, and the egress guard (EgressPolicy) through which every
// outbound connection is dialed, with its HTTP transport, redirect policy
// and outbound TLS settings. Keeping them in one place means the rules are
// written, and tested, exactly once.
package netguard
