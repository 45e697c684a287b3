// Package connection holds a project's connections to other systems: their
// kinds and field specs, validation, the split between plain settings and
// sealed secrets, and the "test connection" diagnosis.
package connection

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// FieldType is the JSON shape a field accepts.
type FieldType string

// The field types.
const (
	TypeString   FieldType = "string"
	TypeInt      FieldType = "int"
	TypeBool     FieldType = "bool"
	TypeURL      FieldType = "url"      // absolute http(s) URL
	TypeDuration FieldType = "duration" // Go duration text such as 30s
	TypeEnum     FieldType = "enum"
	TypeMap      FieldType = "map" // object of string → string
	TypePEM      FieldType = "pem"
	TypeObject   FieldType = "object"
)

// Field is one setting or secret of a connection kind. The spec drives
// validation, the API's answers and the documentation.
type Field struct {
	Name     string
	Type     FieldType
	Required bool
	Default  any
	Enum     []string
	Min, Max int // for ints
	Doc      string
	Fields   []Field // for objects
}

// Kind is a kind of connection.
type Kind struct {
	Name     string
	Doc      string
	Settings []Field
	// Secrets are sealed and write-only.
	Secrets []Field
	// HTTPAuth says the kind takes an "auth" object (outbound HTTP
	// authentication).
	HTTPAuth bool
}

var tlsFields = []Field{
	{Name: "ca_pem", Type: TypePEM, Doc: "PEM certificates to trust in addition to the system's"},
	{Name: "client_cert_pem", Type: TypePEM, Doc: "PEM client certificate (its key goes in secrets.tls_client_key_pem)"},
	{Name: "insecure_skip_verify", Type: TypeBool, Default: false, Doc: "skip certificate verification: INSECURE, flagged in every answer"},
}

// Kinds are the connection kinds, by name.
var Kinds = map[string]*Kind{
	"http": {
		Name: "http", HTTPAuth: true,
		Doc: "an HTTP(S) API: ERP, CRM and eCommerce systems",
		Settings: []Field{
			{Name: "base_url", Type: TypeURL, Required: true, Doc: "the API's base URL, such as https://erp.example.com/api"},
			{Name: "headers", Type: TypeMap, Doc: "headers sent with every request (not for credentials: use auth)"},
			{Name: "timeout", Type: TypeDuration, Default: "30s", Doc: "how long one request may take (at most 5m)"},
			{Name: "rate_limit", Type: TypeInt, Min: 0, Max: 100000, Doc: "requests per second this node sends to the API at most, over every flow using the connection (0 or absent: no limit)"},
			{Name: "burst", Type: TypeInt, Min: 0, Max: 100000, Doc: "requests that may go at once above rate_limit after a quiet spell (0: 1)"},
			{Name: "concurrency", Type: TypeInt, Min: 0, Max: 1000, Doc: "requests this node has in flight to the API at most, over every flow using the connection (0 or absent: no limit; writes then send 4 at a time)"},
			{Name: "test", Type: TypeObject, Doc: "the request that tests the connection", Fields: []Field{
				{Name: "method", Type: TypeEnum, Enum: []string{"GET", "HEAD", "POST", "OPTIONS"}, Default: "GET"},
				{Name: "path", Type: TypeString, Default: "/"},
			}},
			{Name: "tls", Type: TypeObject, Fields: tlsFields, Doc: "TLS settings"},
		},
		Secrets: []Field{{Name: "tls_client_key_pem", Type: TypePEM, Doc: "the key of tls.client_cert_pem"}},
	},
	"postgres": {
		Name: "postgres", Doc: "a PostgreSQL database",
		Settings: dbSettings(5432, "sslmode", []string{"disable", "require", "verify-ca", "verify-full"}, "verify-full"),
		Secrets:  []Field{{Name: "password", Type: TypeString, Doc: "the database user's password"}},
	},
	"mysql": {
		Name: "mysql", Doc: "a MySQL or MariaDB database",
		Settings: dbSettings(3306, "tls", []string{"false", "true", "skip-verify", "preferred"}, "true"),
		Secrets:  []Field{{Name: "password", Type: TypeString, Doc: "the database user's password"}},
	},
}

func dbSettings(port int, tlsName string, tlsModes []string, tlsDefault string) []Field {
	return []Field{
		{Name: "host", Type: TypeString, Required: true, Doc: "host name or IP address"},
		{Name: "port", Type: TypeInt, Default: port, Min: 1, Max: 65535},
		{Name: "database", Type: TypeString, Required: true},
		{Name: "user", Type: TypeString, Required: true},
		{Name: tlsName, Type: TypeEnum, Enum: tlsModes, Default: tlsDefault, Doc: "TLS mode (skipping verification is insecure)"},
		{Name: "ca_pem", Type: TypePEM, Doc: "PEM certificates to trust for the server"},
		{Name: "connect_timeout", Type: TypeDuration, Default: "10s"},
	}
}

// KindNames lists the kinds, sorted.
func KindNames() []string {
	out := make([]string, 0, len(Kinds))
	for n := range Kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// problems collects what is wrong, each with its path.
type problems []Problem

// Problem is one thing wrong with a connection, at a path in the request.
type Problem struct {
	Field   string
	Message string
}

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// checkObject validates m against fields, filling defaults, and returns
// the normalised object. Unknown keys are problems: a typo must not be
// silently ignored.
func checkObject(path string, fields []Field, m map[string]any, ps *problems) map[string]any {
	out := map[string]any{}
	known := map[string]bool{}
	for _, f := range fields {
		known[f.Name] = true
		v, ok := m[f.Name]
		if !ok || v == nil {
			if f.Required {
				ps.add(path+f.Name, "is required: %s", f.Doc)
			} else if f.Default != nil {
				out[f.Name] = f.Default
			} else if f.Type == TypeObject {
				out[f.Name] = checkObject(path+f.Name+".", f.Fields, map[string]any{}, ps)
			}
			continue
		}
		if nv, ok := checkValue(path+f.Name, f, v, ps); ok {
			out[f.Name] = nv
		}
	}
	var unknown []string
	for k := range m {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		names := make([]string, 0, len(fields))
		for _, f := range fields {
			names = append(names, f.Name)
		}
		ps.add(path+k, "is not a setting here: use %s", strings.Join(names, ", "))
	}
	return out
}

func checkValue(path string, f Field, v any, ps *problems) (any, bool) {
	switch f.Type {
	case TypeString, TypePEM:
		s, ok := v.(string)
		if !ok {
			ps.add(path, "must be a string")
			return nil, false
		}
		if len(s) > 64<<10 {
			ps.add(path, "is longer than 64 KiB")
			return nil, false
		}
		if f.Type == TypePEM && !strings.Contains(s, "-----BEGIN ") {
			ps.add(path, "must be PEM text starting with -----BEGIN")
			return nil, false
		}
		if f.Required && strings.TrimSpace(s) == "" {
			ps.add(path, "must not be empty")
			return nil, false
		}
		return s, true
	case TypeInt:
		n, ok := v.(float64)
		if !ok || n != float64(int(n)) || int(n) < f.Min || (f.Max > 0 && int(n) > f.Max) {
			ps.add(path, "must be a whole number between %d and %d", f.Min, f.Max)
			return nil, false
		}
		return int(n), true
	case TypeBool:
		b, ok := v.(bool)
		if !ok {
			ps.add(path, "must be true or false")
			return nil, false
		}
		return b, true
	case TypeURL:
		s, _ := v.(string)
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			ps.add(path, "must be an absolute http:// or https:// URL without credentials in it, such as https://erp.example.com/api")
			return nil, false
		}
		return strings.TrimRight(s, "/"), true
	case TypeDuration:
		s, _ := v.(string)
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 || d > 5*time.Minute {
			ps.add(path, "must be a duration between 1ms and 5m, such as 30s")
			return nil, false
		}
		return s, true
	case TypeEnum:
		s, _ := v.(string)
		if !slices.Contains(f.Enum, s) {
			ps.add(path, "must be one of %s", strings.Join(f.Enum, ", "))
			return nil, false
		}
		return s, true
	case TypeMap:
		m, ok := v.(map[string]any)
		if !ok {
			ps.add(path, "must be an object of names to text values")
			return nil, false
		}
		out := map[string]any{}
		for k, x := range m {
			s, ok := x.(string)
			if !ok {
				ps.add(path+"."+k, "must be a string")
				continue
			}
			if looksSecretHeader(k) {
				ps.add(path+"."+k, "looks like a credential, and settings are plain text shown to every member: send it with auth (type api_key with in: header, or bearer/basic), which is encrypted")
				continue
			}
			out[k] = s
		}
		return out, true
	case TypeObject:
		m, ok := v.(map[string]any)
		if !ok {
			ps.add(path, "must be an object")
			return nil, false
		}
		return checkObject(path+".", f.Fields, m, ps), true
	}
	ps.add(path, "has an unknown type")
	return nil, false
}

// Insecure names the settings of a connection that weaken its security
// (skipped TLS verification), so every answer can flag them.
func Insecure(c *Connection) []string {
	var out []string
	if tls, ok := c.Settings["tls"].(map[string]any); ok && tls["insecure_skip_verify"] == true {
		out = append(out, "settings.tls.insecure_skip_verify")
	}
	if c.Settings["sslmode"] == "disable" || c.Settings["sslmode"] == "require" {
		out = append(out, "settings.sslmode")
	}
	if c.Settings["tls"] == "false" || c.Settings["tls"] == "skip-verify" || c.Settings["tls"] == "preferred" {
		out = append(out, "settings.tls")
	}
	return out
}

// looksSecretHeader reports header names that carry credentials, which
// belong in the encrypted auth rather than in plain settings.
func looksSecretHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie":
		return true
	}
	for _, w := range []string{"key", "token", "secret", "password", "passwd", "signature", "auth", "session"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
