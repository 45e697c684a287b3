// Package httpauth authenticates Sluice's outbound HTTP requests: the
// credentials of an http connection (DESIGN §6 "auth") turned into one
// small signer per scheme, stacked on the egress guard's transport the way
// Benthos stacks its HTTP client (base → auth signer → rate limit → ...).
//
// Schemes: none; Basic (RFC 7617, UTF-8); Bearer (RFC 6750); an API key in
// a header or the query; OAuth 1.0a (RFC 5849: HMAC-SHA1, HMAC-SHA256,
// RSA-SHA1, RSA-SHA256, PLAINTEXT over TLS only, realm, form bodies in the
// signature base string); OAuth 2.0 (client credentials, refresh token with
// rotation, authorization code with PKCE S256; client_secret_basic and
// client_secret_post); NTLMv2 on a connection-bound transport; and a
// dynamic token fetched from a token endpoint and picked out of its JSON
// answer with a jq expression.
//
// The life of a signer: Config.Validate checks a configuration without I/O
// and lists every problem with its field path; New builds the RoundTripper,
// also without I/O; tokens are fetched on the first request that needs one,
// with that request's context, cached until shortly before they expire and
// fetched again once when the server answers 401.
//
// Rules every signer keeps:
//
//   - the caller's request is never changed: signers work on a clone;
//   - credentials go only to the connection's origin (Options.BaseURL:
//     scheme, host and port). A request for any other origin, such as a
//     redirect to a CDN, passes through without them, because the egress
//     guard's redirect check cannot see headers added below the client;
//   - nothing is logged, and no error carries a secret, a token, a request
//     body or a query string;
//   - every token request goes through the base transport given to New (the
//     egress guard), never through a dialer or client of its own, and follows
//     no redirect.
package httpauth
