package connection

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/sluice-dev/sluice/internal/store"
)

// MaxConnectionsFileBytes bounds a connections file.
const MaxConnectionsFileBytes = 1 << 20

// FileSet is the connections of a connections file, for a flow run outside
// any server (`sluice run`). They are checked as the API checks a
// connection, and reached through the same egress guard and the same code
// that opens a project's connections. A file holds no secret: each secret
// field is a ${ENV_NAME} reference to an environment variable.
type FileSet struct {
	conns   map[string]*fileConn
	network *GuardedNetwork
	// httpLimits are the shared Limits of the http connections (httpconn.go).
	httpLimits limitsRegistry
}

type fileConn struct {
	v   *Connection
	sec Secrets
}

// envRef is a secret's reference to an environment variable.
var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// ParseFile reads a connections file (YAML or JSON): an object mapping
// each connection's name to {kind, settings, secrets, auth} as the API
// takes them, except that every secret (secrets.*, and the secret fields
// of auth such as password or token) is written "${ENV_NAME}" and read
// from getenv. Every problem is listed in a *ValidationError whose fields
// start with the connection's name ("erp.settings.host"); a literal
// secret is a problem, and its value is never repeated. network reaches
// the connections; it must have no store (its egress policy is its
// InstanceAllow alone).
func ParseFile(data []byte, getenv func(string) string, network *GuardedNetwork) (*FileSet, error) {
	var ps problems
	fail := func(msg string) error {
		ps.add("", "%s", msg)
		return ps.err()
	}
	if len(data) > MaxConnectionsFileBytes {
		return nil, fail(fmt.Sprintf("the file is larger than %d bytes", MaxConnectionsFileBytes))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fail("the file is empty: write one entry per connection, such as `erp: {kind: postgres, settings: {...}, secrets: {password: \"${ERP_PASSWORD}\"}}`")
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fail("is not valid YAML or JSON: " + yaml.FormatError(err, false, false))
	}
	var doc map[string]any
	if err := json.Unmarshal(js, &doc); err != nil || doc == nil {
		return nil, fail("must be an object mapping each connection's name to {kind, settings, secrets, auth}")
	}
	fs := &FileSet{conns: map[string]*fileConn{}, network: network}
	svc := &Service{ValidateAuth: ValidateHTTPAuth}
	names := make([]string, 0, len(doc))
	for n := range doc {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if fc := parseFileConn(svc, name, doc[name], getenv, &ps); fc != nil {
			fs.conns[name] = fc
		}
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return fs, nil
}

// parseFileConn checks one entry of a connections file, adding its
// problems to ps.
func parseFileConn(svc *Service, name string, raw any, getenv func(string) string, ps *problems) *fileConn {
	at := func(field string) string { return name + "." + field }
	if _, err := checkName(name); err != nil {
		ps.add(name, "is not a usable connection name: at most 100 characters on one line")
		return nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		ps.add(name, "must be an object: {kind, settings, secrets, auth}")
		return nil
	}
	var unknown []string
	for k := range m {
		if k != "kind" && k != "settings" && k != "secrets" && k != "auth" {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		ps.add(at(k), "is not part of a connection: use kind, settings, secrets and auth")
	}
	kindName, _ := m["kind"].(string)
	kind := Kinds[kindName]
	if kind == nil {
		ps.add(at("kind"), "must be one of %s", strings.Join(KindNames(), ", "))
		return nil
	}
	in := Input{Settings: map[string]any{}}
	if v, ok := m["settings"]; ok && v != nil {
		s, ok := v.(map[string]any)
		if !ok {
			ps.add(at("settings"), "must be an object")
			return nil
		}
		in.Settings = s
	}
	before := len(*ps)
	if v, ok := m["secrets"]; ok && v != nil {
		s, ok := v.(map[string]any)
		if !ok {
			ps.add(at("secrets"), "must be an object of secret names to \"${ENV_NAME}\" references")
		}
		in.Secrets = map[string]*string{}
		for k, x := range s {
			if val, ok := resolveSecret(at("secrets."+k), name, k, x, getenv, ps); ok {
				in.Secrets[k] = &val
			}
		}
	}
	if v, ok := m["auth"]; ok && v != nil {
		a, ok := v.(map[string]any)
		if !ok {
			ps.add(at("auth"), "must be an object such as {type: bearer, token: \"${SHOP_TOKEN}\"}")
			return nil
		}
		in.Auth = map[string]any{}
		for k, x := range a {
			if !isAuthSecret(k) {
				in.Auth[k] = x
				continue
			}
			val, ok := resolveSecret(at("auth."+k), name, k, x, getenv, ps)
			if !ok {
				continue
			}
			if authObjectSecrets[k] {
				var obj map[string]any
				if json.Unmarshal([]byte(val), &obj) != nil || obj == nil {
					ps.add(at("auth."+k), "the environment variable it names must hold a JSON object")
					continue
				}
				in.Auth[k] = obj
				continue
			}
			in.Auth[k] = val
		}
	}
	if len(*ps) > before {
		return nil
	}
	settings, auth, sec, err := svc.build(kind, in, nil, nil, nil)
	if ve, ok := err.(*ValidationError); ok {
		for _, p := range ve.Problems {
			ps.add(at(p.Field), "%s", p.Message)
		}
		return nil
	}
	v := &Connection{Row: &store.Connection{ID: "file:" + name, Name: name, Kind: kind.Name}, Settings: settings, Auth: auth}
	for k := range sec {
		v.SecretKeys = append(v.SecretKeys, k)
	}
	sort.Strings(v.SecretKeys)
	return &fileConn{v: v, sec: sec}
}

// resolveSecret reads a secret field's ${ENV_NAME} reference from the
// environment. A literal value is refused without being repeated.
func resolveSecret(path, conn, field string, v any, getenv func(string) string, ps *problems) (string, bool) {
	s, _ := v.(string)
	m := envRef.FindStringSubmatch(s)
	if m == nil {
		suggest := strings.ToUpper(nonWord.ReplaceAllString(conn+"_"+field, "_"))
		ps.add(path, "is a secret, and secrets are not written in the connections file: put it in an environment variable and write \"${%s}\" here", suggest)
		return "", false
	}
	val := getenv(m[1])
	if val == "" {
		ps.add(path, "the environment variable %s is not set (or is empty): export it before running", m[1])
		return "", false
	}
	return val, true
}

var nonWord = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// Names lists the file's connections, sorted.
func (fs *FileSet) Names() []string {
	out := make([]string, 0, len(fs.conns))
	for n := range fs.conns {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Kind is the kind of the connection called name, and false when the file
// has none.
func (fs *FileSet) Kind(name string) (string, bool) {
	fc, ok := fs.conns[name]
	if !ok {
		return "", false
	}
	return fc.v.Row.Kind, true
}

// Insecure names the settings of the connection called name that weaken
// its security (see Insecure).
func (fs *FileSet) Insecure(name string) []string {
	fc, ok := fs.conns[name]
	if !ok {
		return nil
	}
	return Insecure(fc.v)
}

// lookup is the connection called name; an unknown name wraps
// store.ErrNotFound, as a project's would.
func (fs *FileSet) lookup(name string) (*fileConn, error) {
	fc, ok := fs.conns[name]
	if !ok {
		return nil, fmt.Errorf("the connections file has no connection %q: %w", name, store.ErrNotFound)
	}
	return fc, nil
}

// OpenSQL returns how to open the database connection called name, as
// Service.OpenSQL does for a project's; projectID is ignored.
func (fs *FileSet) OpenSQL(ctx context.Context, projectID, name string) (*SQLDB, error) {
	fc, err := fs.lookup(name)
	if err != nil {
		return nil, err
	}
	v, sec := fc.v, fc.sec
	if v.Row.Kind != "postgres" && v.Row.Kind != "mysql" {
		return nil, fmt.Errorf("connection %q (%s) %w", name, v.Row.Kind, ErrNotSQL)
	}
	kind := v.Row.Kind
	return &SQLDB{Kind: kind, Open: func(ctx context.Context) (*sql.DB, error) {
		dial, err := fs.network.Dialer(ctx, "")
		if err != nil {
			return nil, err
		}
		if kind == "postgres" {
			return postgresDB(v, sec, dial)
		}
		return mysqlDB(v, sec, dial)
	}}, nil
}
