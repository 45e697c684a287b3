package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runEnv(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runEnvIn(t, env, "", args...)
}

func runEnvIn(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// TestWrongMasterKeyStopsStartUp: a database whose keyring was made under
// one master key refuses to start under another, with a message that says
// what to do and shows neither key.
func TestWrongMasterKeyStopsStartUp(t *testing.T) {
	dir := t.TempDir()
	right, wrong := base64.StdEncoding.EncodeToString(newKey(t)), hex.EncodeToString(newKey(t))
	if code, _, errOut := runEnv(t, nil, "migrate", "--data-dir", dir); code != 0 {
		t.Fatal(errOut)
	}
	if code, out, errOut := runEnv(t, map[string]string{"SLUICE_MASTER_KEY": right}, "keys", "status", "--data-dir", dir); code != 0 || !strings.Contains(out, "current term: 1") {
		t.Fatalf("keys status with the right key: %d %s %s", code, out, errOut)
	}
	const want = "the master key does not match this database's keyring: start Sluice with the master key it was created with (SLUICE_MASTER_KEY / --master-key-file)"
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir},
		{"keys", "status", "--data-dir", dir},
		{"keys", "rotate", "--data-dir", dir},
		{"admin", "create-user", "--email", "a@example.com", "--data-dir", dir},
	} {
		code, out, errOut := runEnvIn(t, map[string]string{"SLUICE_MASTER_KEY": wrong}, "correct horse battery staple\n", args...)
		if code != 1 || !strings.Contains(errOut, want) {
			t.Fatalf("%v with the wrong key: exit %d\nstdout %s\nstderr %s", args, code, out, errOut)
		}
		if strings.Contains(out+errOut, wrong) || strings.Contains(out+errOut, right) {
			t.Fatalf("%v printed a master key", args)
		}
	}
	// No key at all on a database that has a keyring: a development key
	// is generated, and does not match either.
	code, _, errOut := runEnv(t, nil, "keys", "status", "--data-dir", dir)
	if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "development key file") {
		t.Fatalf("no key on a keyed database: exit %d, %s", code, errOut)
	}
	// The right key, from a file this time, still works.
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(keyFile, []byte(right+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runEnv(t, nil, "keys", "status", "--data-dir", dir, "--master-key-file", keyFile); code != 0 || !strings.Contains(out, "current term: 1") {
		t.Fatalf("keys status with the key file: %d %s %s", code, out, errOut)
	}
}

func TestMasterKeyConfiguration(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runEnv(t, nil, "migrate", "--data-dir", dir); code != 0 {
		t.Fatal(errOut)
	}
	key := base64.StdEncoding.EncodeToString(newKey(t))
	open := filepath.Join(t.TempDir(), "open.key")
	if err := os.WriteFile(open, []byte(key), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		code     int
		contains string
	}{
		{"file readable by others", nil, []string{"keys", "status", "--data-dir", dir, "--master-key-file", open}, 1, "chmod 600"},
		{"env names the file", map[string]string{"SLUICE_MASTER_KEY_FILE": open}, []string{"keys", "status", "--data-dir", dir}, 1, "chmod 600"},
		{"both ways", map[string]string{"SLUICE_MASTER_KEY": key}, []string{"keys", "status", "--data-dir", dir, "--master-key-file", open}, 1, "one way only"},
		{"not a key", map[string]string{"SLUICE_MASTER_KEY": "hunter2"}, []string{"keys", "status", "--data-dir", dir}, 1, "openssl rand -base64 32"},
		{"no key flag", nil, []string{"serve", "--data-dir", dir, "--master-key", key}, 2, "master-key"},
		{"migrate needs no key", nil, []string{"migrate", "--data-dir", dir, "--master-key-file", open}, 2, "master-key-file"},
		{"keys without a command", nil, []string{"keys"}, 2, "sluice keys rotate"},
		{"keys with an unknown command", nil, []string{"keys", "delete"}, 2, "sluice keys rotate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runEnv(t, tc.env, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.contains) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant output containing %q", code, tc.code, out, errOut, tc.contains)
			}
			if strings.Contains(out+errOut, key) || strings.Contains(out+errOut, "hunter2") {
				t.Fatalf("a key was echoed: %s%s", out, errOut)
			}
		})
	}
}

// TestKeysRotateCommand: `sluice keys rotate` adds a term and, by default,
// works the re-encryption job until it finishes; --no-wait only queues it,
// and `sluice keys status` shows both.
func TestKeysRotateCommand(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SLUICE_MASTER_KEY": base64.StdEncoding.EncodeToString(newKey(t))}
	if code, out, errOut := runEnvIn(t, env, "correct horse battery staple\n", "admin", "create-user", "--email", "ann@example.com", "--admin", "--data-dir", dir); code != 0 {
		t.Fatalf("create-user: %d %s %s", code, out, errOut)
	}
	code, out, errOut := runEnv(t, env, "keys", "rotate", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "key term 2 created") || !strings.Contains(out, "rotation to term 2 finished") {
		t.Fatalf("keys rotate: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	code, out, errOut = runEnv(t, env, "keys", "rotate", "--no-wait", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "key term 3 created") || !strings.Contains(out, "queued") || strings.Contains(out, "finished") {
		t.Fatalf("keys rotate --no-wait: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	code, out, errOut = runEnv(t, env, "keys", "status", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "current term: 3") || !strings.Contains(out, "term 2  started") ||
		!strings.Contains(out, "term 3  started") || !strings.Contains(out, "running") || !strings.Contains(out, "users: none") {
		t.Fatalf("keys status: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if strings.Contains(out+errOut, env["SLUICE_MASTER_KEY"]) {
		t.Fatal("the master key was printed")
	}
}
