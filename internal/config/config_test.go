package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	all := DB | Server | Worker | Logging
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{name: "defaults", check: func(t *testing.T, c *Config) {
			if c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || c.Workers != 4 || c.SessionIdle != 8*time.Hour || c.Postgres() || c.TLS() {
				t.Fatalf("defaults: %+v", c)
			}
		}},
		{name: "env sets a default", env: map[string]string{"SLUICE_DATA_DIR": "/srv/sluice", "SLUICE_WORKERS": "9", "SLUICE_INSECURE_HTTP": "true"},
			check: func(t *testing.T, c *Config) {
				if c.DataDir != "/srv/sluice" || c.Workers != 9 || !c.InsecureHTTP {
					t.Fatalf("env ignored: %+v", c)
				}
			}},
		{name: "flag beats env", args: []string{"--data-dir", "/flag"}, env: map[string]string{"SLUICE_DATA_DIR": "/env"},
			check: func(t *testing.T, c *Config) {
				if c.DataDir != "/flag" {
					t.Fatalf("data dir %q, want the flag's", c.DataDir)
				}
			}},
		{name: "postgres url", args: []string{"--database-url", "postgresql://u@h/db"}, check: func(t *testing.T, c *Config) {
			if !c.Postgres() {
				t.Fatal("postgresql:// not recognised")
			}
		}},
		{name: "other database refused, password hidden", args: []string{"--database-url", "mysql://u:s3cret@h/db"}, wantErr: "mysql://u:[REDACTED]@h/db"},
		{name: "bad env bool", env: map[string]string{"SLUICE_NO_WORKER": "maybe"}, wantErr: "not true or false"},
		{name: "bad env duration", env: map[string]string{"SLUICE_SESSION_IDLE_TIMEOUT": "soon"}, wantErr: "not a duration"},
		{name: "bad env number", env: map[string]string{"SLUICE_WORKERS": "many"}, wantErr: "not a number"},
		{name: "workers out of range", args: []string{"--workers", "0"}, wantErr: "between 1 and 1000"},
		{name: "idle longer than max", args: []string{"--session-idle-timeout", "48h", "--session-max-age", "24h"}, wantErr: "idle timeout no longer"},
		{name: "tls half given", args: []string{"--tls-key", "k.pem"}, wantErr: "together"},
		{name: "bad log format", args: []string{"--log-format", "xml"}, wantErr: "text or json"},
		{name: "bad public url", args: []string{"--public-url", "sluice.example.com"}, wantErr: "full URL"},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "nope"},
		{name: "files dir defaults to the data dir's files", args: []string{"--data-dir", "/srv/sluice"}, check: func(t *testing.T, c *Config) {
			if c.FilesDir != "/srv/sluice/files" {
				t.Fatalf("files dir %q", c.FilesDir)
			}
		}},
		{name: "files dir from env", env: map[string]string{"SLUICE_FILES_DIR": "/srv/exchange"}, check: func(t *testing.T, c *Config) {
			if c.FilesDir != "/srv/exchange" {
				t.Fatalf("files dir %q", c.FilesDir)
			}
		}},
		{name: "files dir flag beats env", args: []string{"--files-dir", "/flag"}, env: map[string]string{"SLUICE_FILES_DIR": "/env"}, check: func(t *testing.T, c *Config) {
			if c.FilesDir != "/flag" {
				t.Fatalf("files dir %q", c.FilesDir)
			}
		}},
		{name: "files dir beside the data dir", args: []string{"--data-dir", "/srv/data", "--files-dir", "/srv/data-files"}, check: func(t *testing.T, c *Config) {
			if c.FilesDir != "/srv/data-files" {
				t.Fatalf("files dir %q", c.FilesDir)
			}
		}},
		{name: "files dir is the data dir", args: []string{"--data-dir", "/srv/data", "--files-dir", "/srv/data/"}, wantErr: "flows could read the database"},
		{name: "files dir holds the data dir", args: []string{"--data-dir", "./data", "--files-dir", "."}, wantErr: "holds the data directory"},
		{name: "TLS key in the files dir", args: []string{"--files-dir", "/srv/files", "--tls-cert", "/srv/c.pem", "--tls-key", "/srv/files/k.pem"}, wantErr: "--tls-key /srv/files/k.pem is inside --files-dir"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := Parse("serve", all, tc.args, func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("error shows a password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// TestMasterKeySettings: the key file comes from --master-key-file or
// SLUICE_MASTER_KEY_FILE, the key itself only from SLUICE_MASTER_KEY (no
// flag: a command line is visible to every user of the machine), and a
// printed Config never shows the key.
func TestMasterKeySettings(t *testing.T) {
	const key = "c2x1aWNlLXRlc3QtbWFzdGVyLWtleS0zMi1ieXRlcyE="
	env := map[string]string{"SLUICE_MASTER_KEY": key, "SLUICE_MASTER_KEY_FILE": "/run/secrets/env.key"}
	getenv := func(k string) string { return env[k] }
	c, _, err := Parse("serve", DB|Keys, nil, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if c.MasterKey.Reveal() != key || c.MasterKeyFile != "/run/secrets/env.key" {
		t.Fatalf("master key settings from the environment: file %q, key set %v", c.MasterKeyFile, !c.MasterKey.IsZero())
	}
	for _, printed := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(printed, key) {
			t.Fatalf("a printed Config shows the master key: %s", printed)
		}
	}
	c, _, err = Parse("serve", DB|Keys, []string{"--master-key-file", "/flag.key"}, getenv)
	if err != nil || c.MasterKeyFile != "/flag.key" {
		t.Fatalf("--master-key-file: %v, %+v", err, c)
	}
	if _, _, err := Parse("serve", DB|Keys, []string{"--master-key", key}, getenv); err == nil || strings.Contains(err.Error(), key) {
		t.Fatalf("--master-key is accepted as a flag, or its value echoed: %v", err)
	}
	// Commands without the Keys group neither take the flag nor read the key.
	c, _, err = Parse("migrate", DB, nil, getenv)
	if err != nil || !c.MasterKey.IsZero() || c.MasterKeyFile != "" {
		t.Fatalf("migrate read the master key settings: %v", err)
	}
	if _, _, err := Parse("migrate", DB, []string{"--master-key-file", "/x"}, getenv); err == nil {
		t.Fatal("migrate accepts --master-key-file")
	}
	if _, _, err := Parse("serve", DB|Server|Worker|Keys, []string{"--files-dir", "/run/secrets"}, getenv); err == nil || !strings.Contains(err.Error(), "--master-key-file /run/secrets/env.key is inside --files-dir") {
		t.Fatalf("a master key file inside the files directory: %v", err)
	}
}

// TestFilesDirFlagGroups: serve and worker take --files-dir (flows run
// there); commands that run no flow do not.
func TestFilesDirFlagGroups(t *testing.T) {
	none := func(string) string { return "" }
	for _, set := range []Set{DB | Server | Worker | Logging | Keys, DB | Worker | Logging | Keys} {
		c, _, err := Parse("x", set, []string{"--files-dir", "/srv/files"}, none)
		if err != nil || c.FilesDir != "/srv/files" {
			t.Fatalf("set %b: %v, %+v", set, err, c)
		}
	}
	if _, _, err := Parse("migrate", DB, []string{"--files-dir", "/srv/files"}, none); err == nil {
		t.Fatal("migrate accepts --files-dir")
	}
	if c, _, _ := Parse("migrate", DB, nil, none); c.FilesDir != "" {
		t.Fatalf("migrate has a files dir: %q", c.FilesDir)
	}
}
