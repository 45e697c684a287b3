// Package auth holds Sluice's authentication primitives: argon2id password
// hashing and policy, opaque session and API-key secrets, TOTP second
// factors with recovery codes, and in-memory login throttling.
//
// Nothing here touches a database or HTTP; the store persists the hashes
// and steps these functions return, and the web layer decides what to ask.
package auth
