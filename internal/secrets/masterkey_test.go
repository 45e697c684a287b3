package secrets

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func randomKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseMasterKey(t *testing.T) {
	raw := randomKey(t)
	good := map[string]string{
		"base64 std":          base64.StdEncoding.EncodeToString(raw),
		"base64 url":          base64.URLEncoding.EncodeToString(raw),
		"base64 raw std":      base64.RawStdEncoding.EncodeToString(raw),
		"base64 raw url":      base64.RawURLEncoding.EncodeToString(raw),
		"hex":                 hex.EncodeToString(raw),
		"HEX":                 strings.ToUpper(hex.EncodeToString(raw)),
		"surrounding spaces":  "  \n" + base64.StdEncoding.EncodeToString(raw) + "\r\n\t",
		"hex with a newline ": hex.EncodeToString(raw) + "\n",
	}
	for name, s := range good {
		t.Run(name, func(t *testing.T) {
			k, err := ParseMasterKey(s)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k.key, raw) {
				t.Fatal("decoded another key")
			}
		})
	}
	bad := map[string]string{
		"empty":          "",
		"short base64":   base64.StdEncoding.EncodeToString(raw[:31]),
		"long base64":    base64.StdEncoding.EncodeToString(append(raw, 1)),
		"short hex":      hex.EncodeToString(raw)[:62],
		"odd hex":        hex.EncodeToString(raw)[:63] + "g",
		"a passphrase":   "correct horse battery staple is not a key",
		"inner spaces":   base64.StdEncoding.EncodeToString(raw[:16]) + " " + base64.StdEncoding.EncodeToString(raw[16:]),
		"all zero bytes": base64.StdEncoding.EncodeToString(make([]byte, 32)),
	}
	for name, s := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := ParseMasterKey(s)
			if err == nil {
				t.Fatal("accepted")
			}
			if s != "" && strings.Contains(err.Error(), strings.TrimSpace(s)) {
				t.Fatalf("the error quotes the input: %v", err)
			}
		})
	}
}

func TestLoadMasterKey(t *testing.T) {
	raw := randomKey(t)
	enc := base64.StdEncoding.EncodeToString(raw)
	dir := t.TempDir()
	write := func(name string, mode os.FileMode, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	private := write("private.key", 0o600, enc+"\n")
	readOnly := write("readonly.key", 0o400, hex.EncodeToString(raw))
	groupRead := write("group.key", 0o640, enc)
	otherRead := write("other.key", 0o604, enc)
	groupWrite := write("groupwrite.key", 0o620, enc)
	garbage := write("garbage.key", 0o600, "not a key at all\n")

	cases := []struct {
		name    string
		src     MasterKeySource
		wantErr string
	}{
		{name: "env", src: MasterKeySource{Env: NewValue(enc)}},
		{name: "file 0600", src: MasterKeySource{File: private}},
		{name: "file 0400 hex", src: MasterKeySource{File: readOnly}},
		{name: "file readable by group", src: MasterKeySource{File: groupRead}, wantErr: "chmod 600"},
		{name: "file readable by others", src: MasterKeySource{File: otherRead}, wantErr: "open to other users"},
		{name: "file writable by group", src: MasterKeySource{File: groupWrite}, wantErr: "open to other users"},
		{name: "file missing", src: MasterKeySource{File: filepath.Join(dir, "nope.key")}, wantErr: "no such file"},
		{name: "file not a key", src: MasterKeySource{File: garbage}, wantErr: "32 random bytes"},
		{name: "a directory", src: MasterKeySource{File: dir}, wantErr: "not a regular file"},
		{name: "both", src: MasterKeySource{Env: NewValue(enc), File: private}, wantErr: "one way only"},
		{name: "env not a key", src: MasterKeySource{Env: NewValue("short")}, wantErr: "SLUICE_MASTER_KEY: the master key must be"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := LoadMasterKey(tc.src)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to say %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), enc) {
					t.Fatalf("the error shows the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k.key, raw) {
				t.Fatal("loaded another key")
			}
		})
	}
}

// TestDevelopmentKey: with no key configured, one is generated in the data
// directory with mode 0600 and a warning, once; later starts reuse it.
func TestDevelopmentKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	k1, err := LoadMasterKey(MasterKeySource{DataDir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, DevKeyFile)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", info.Mode().Perm())
	}
	if n := strings.Count(logs.String(), "development master key generated at "+path+"; set SLUICE_MASTER_KEY or --master-key-file in production"); n != 1 {
		t.Fatalf("warning logged %d times: %s", n, logs.String())
	}
	content, _ := os.ReadFile(path)
	if strings.Contains(logs.String(), strings.TrimSpace(string(content))) {
		t.Fatal("the generated key was logged")
	}
	k2, err := LoadMasterKey(MasterKeySource{DataDir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1.key, k2.key) {
		t.Fatal("a second start generated another key")
	}
	if n := strings.Count(logs.String(), "generated"); n != 1 {
		t.Fatalf("the second start warned again: %s", logs.String())
	}
	// A generated file someone opened up is refused like any other.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMasterKey(MasterKeySource{DataDir: dir, Logger: log}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable development key was used: %v", err)
	}
	// An explicit key wins over the development file.
	other := randomKey(t)
	k3, err := LoadMasterKey(MasterKeySource{Env: NewValue(hex.EncodeToString(other)), DataDir: dir, Logger: log})
	if err != nil || !bytes.Equal(k3.key, other) {
		t.Fatalf("SLUICE_MASTER_KEY did not win over the development file: %v", err)
	}
}
