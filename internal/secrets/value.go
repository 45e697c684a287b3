// Package secrets keeps credentials secret: Value, a string that prints as
// [REDACTED] wherever it is formatted, encoded or logged; the master key;
// and the Keyring, which seals stored secrets with AES-256-GCM under data
// keys that rotate by term, each ciphertext bound to its table, row and
// field (DESIGN §3, §8).
package secrets

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Redacted is what a Value shows instead of its content.
const Redacted = "[REDACTED]"

// Value holds a secret string. Every way of printing it (fmt verbs, JSON,
// slog) shows [REDACTED]; Reveal is the only way to the content, so a
// careless log line or API answer cannot leak one. The zero Value is
// empty.
type Value struct {
	// s is unexported so reflection-based encoders (fmt's %+v on a struct
	// holding a Value, encoding/gob) cannot reach it.
	s string
}

// NewValue wraps s.
func NewValue(s string) Value { return Value{s: s} }

// Reveal returns the secret. Call it only where the secret is used (sent
// to the system it authenticates to, compared, sealed), never to log it.
func (v Value) Reveal() string { return v.s }

// IsZero reports whether the Value is empty.
func (v Value) IsZero() bool { return v.s == "" }

// String implements fmt.Stringer.
func (v Value) String() string { return Redacted }

// GoString implements fmt.GoStringer (%#v).
func (v Value) GoString() string { return "secrets.Value{" + Redacted + "}" }

// Format implements fmt.Formatter, so every verb (%v %+v %s %q %x %d ...)
// prints [REDACTED] rather than the content.
func (v Value) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", Redacted)
	case 'v':
		if f.Flag('#') {
			_, _ = f.Write([]byte(v.GoString()))
			return
		}
		_, _ = f.Write([]byte(Redacted))
	default:
		_, _ = f.Write([]byte(Redacted))
	}
}

// MarshalJSON implements json.Marshaler: "[REDACTED]".
func (v Value) MarshalJSON() ([]byte, error) { return json.Marshal(Redacted) }

// MarshalText implements encoding.TextMarshaler (used by map keys, XML,
// slog's text handler for some paths): [REDACTED].
func (v Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// UnmarshalJSON accepts a JSON string (or null, leaving the Value empty),
// so request bodies can decode straight into a Value.
func (v *Value) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		v.s = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		// The error must not quote the input: it may be the secret.
		return fmt.Errorf("a secret must be a JSON string")
	}
	v.s = s
	return nil
}

// LogValue implements slog.LogValuer.
func (v Value) LogValue() slog.Value { return slog.StringValue(Redacted) }

// Interface guards.
var (
	_ fmt.Stringer     = Value{}
	_ fmt.GoStringer   = Value{}
	_ fmt.Formatter    = Value{}
	_ json.Marshaler   = Value{}
	_ json.Unmarshaler = (*Value)(nil)
	_ slog.LogValuer   = Value{}
)
