package secrets

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func masterKey(t testing.TB) MasterKey {
	t.Helper()
	k, err := ParseMasterKey(base64.StdEncoding.EncodeToString(randomKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	k.from = "the test"
	return k
}

func openKeyring(t testing.TB, st *store.Store, mk MasterKey) *Keyring {
	t.Helper()
	k, err := OpenKeyring(context.Background(), st, mk, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var here = AAD{Table: "connections", Row: "0192f0c4-0000-7000-8000-000000000001", Field: "secrets"}

// TestKeyringContract is the keyring's contract on every store dialect:
// what is sealed opens at the same place only, in the documented format.
func TestKeyringContract(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		mk := masterKey(t)
		k := openKeyring(t, st, mk)
		if k.CurrentTerm() != 1 {
			t.Fatalf("a new keyring starts at term %d, want 1", k.CurrentTerm())
		}
		plain := []byte(`{"password":"` + planted + `"}`)
		ct, err := k.Seal(plain, here)
		if err != nil {
			t.Fatal(err)
		}

		t.Run("format", func(t *testing.T) {
			if !strings.HasPrefix(ct, "sk1:") || !IsSealed(ct) || IsSealed(planted) {
				t.Fatalf("no sk1: prefix: %s", ct)
			}
			raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(ct, "sk1:"))
			if err != nil {
				t.Fatal(err)
			}
			if raw[0] != 1 || binary.BigEndian.Uint32(raw[1:5]) != 1 || len(raw) != 1+4+12+len(plain)+16 {
				t.Fatalf("version %d, term %d, length %d", raw[0], binary.BigEndian.Uint32(raw[1:5]), len(raw))
			}
			if bytes.Contains(raw, plain) || strings.Contains(ct, planted) {
				t.Fatal("the plaintext shows in the ciphertext")
			}
			if term, err := TermOf(ct); err != nil || term != 1 {
				t.Fatalf("TermOf = %d, %v", term, err)
			}
			again, _ := k.Seal(plain, here)
			if again == ct {
				t.Fatal("the same plaintext sealed twice gives the same ciphertext: nonces repeat")
			}
		})

		t.Run("round trip", func(t *testing.T) {
			got, err := k.Open(ct, here)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("Open = %q, %v", got, err)
			}
			got, err = k.OpenFor(ct, here.Table, here.Row, here.Field)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("OpenFor = %q, %v", got, err)
			}
			ct2, term, err := k.SealFor(nil, "users", "u1", "totp_secret")
			if err != nil || term != 1 {
				t.Fatalf("SealFor: %v, term %d", err, term)
			}
			if got, err := k.Open(ct2, AAD{"users", "u1", "totp_secret"}); err != nil || len(got) != 0 {
				t.Fatalf("empty plaintext: %q, %v", got, err)
			}
		})

		t.Run("bound to its place", func(t *testing.T) {
			elsewhere := []AAD{
				{Table: "users", Row: here.Row, Field: here.Field},
				{Table: here.Table, Row: "0192f0c4-0000-7000-8000-000000000002", Field: here.Field},
				{Table: here.Table, Row: here.Row, Field: "settings"},
				{Table: here.Table, Row: here.Row + "x", Field: here.Field},
				// Shifting bytes between parts must not give the same AAD.
				{Table: here.Table + here.Row[:1], Row: here.Row[1:], Field: here.Field},
				{Table: here.Table, Row: here.Row + here.Field[:1], Field: here.Field[1:]},
			}
			for _, a := range elsewhere {
				got, err := k.Open(ct, a)
				if !errors.Is(err, ErrDecrypt) || got != nil {
					t.Errorf("opened at %+v: %q, %v", a, got, err)
				}
			}
			for _, a := range []AAD{{}, {Table: "t", Row: "r"}, {Table: "t", Field: "f"}, {Row: "r", Field: "f"}} {
				if _, err := k.Seal(plain, a); err == nil {
					t.Errorf("sealed with incomplete AAD %+v", a)
				}
				if _, err := k.Open(ct, a); err == nil {
					t.Errorf("opened with incomplete AAD %+v", a)
				}
			}
		})

		t.Run("tampering", func(t *testing.T) {
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(ct, "sk1:"))
			enc := func(b []byte) string { return "sk1:" + base64.StdEncoding.EncodeToString(b) }
			// Every bit of every byte: header, nonce, ciphertext and tag.
			for i := range raw {
				for bit := 0; bit < 8; bit++ {
					b := bytes.Clone(raw)
					b[i] ^= 1 << bit
					if got, err := k.Open(enc(b), here); !errors.Is(err, ErrDecrypt) || got != nil {
						t.Fatalf("byte %d bit %d flipped: opened %q, %v", i, bit, got, err)
					}
				}
			}
			// Truncated at every length, and extended.
			for n := 0; n < len(raw); n++ {
				if got, err := k.Open(enc(raw[:n]), here); !errors.Is(err, ErrDecrypt) || got != nil {
					t.Fatalf("truncated to %d bytes: %q, %v", n, got, err)
				}
			}
			for n := 0; n < len(ct); n++ {
				if got, err := k.Open(ct[:n], here); !errors.Is(err, ErrDecrypt) || got != nil {
					t.Fatalf("stored value cut to %d characters: %q, %v", n, got, err)
				}
			}
			if _, err := k.Open(enc(append(bytes.Clone(raw), 0)), here); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("extended: %v", err)
			}
			// Another version; another term (known and unknown).
			b := bytes.Clone(raw)
			b[0] = 2
			if _, err := k.Open(enc(b), here); !errors.Is(err, ErrDecrypt) || !strings.Contains(err.Error(), "version 2") {
				t.Fatalf("version 2: %v", err)
			}
			b = bytes.Clone(raw)
			binary.BigEndian.PutUint32(b[1:5], 7)
			if _, err := k.Open(enc(b), here); !errors.Is(err, ErrUnknownTerm) || !errors.Is(err, ErrDecrypt) {
				t.Fatalf("unknown term: %v", err)
			}
			for _, bad := range []string{"", planted, "sk1:", "sk1:!!!!", "SK1:" + ct[4:], " " + ct} {
				if got, err := k.Open(bad, here); !errors.Is(err, ErrDecrypt) || got != nil {
					t.Fatalf("Open(%q) = %q, %v", bad, got, err)
				}
			}
			// The errors say nothing of the content.
			_, err := k.Open(ct, AAD{"users", "x", "y"})
			if strings.Contains(err.Error(), planted) || strings.Contains(err.Error(), ct) {
				t.Fatalf("the error shows the secret or its ciphertext: %v", err)
			}
		})

		t.Run("reopened with the right key", func(t *testing.T) {
			k2 := openKeyring(t, st, mk)
			got, err := k2.Open(ct, here)
			if err != nil || !bytes.Equal(got, plain) || k2.CurrentTerm() != 1 {
				t.Fatalf("after reopening: %q, %v, term %d", got, err, k2.CurrentTerm())
			}
			terms, _ := st.Reader().KeyringTerms(ctx)
			if len(terms) != 1 {
				t.Fatalf("reopening created terms: %d", len(terms))
			}
			// The sealed data key is no data key in clear.
			if strings.Contains(terms[0].SealedKey, base64.StdEncoding.EncodeToString(mk.key)) {
				t.Fatal("the master key is stored")
			}
		})

		t.Run("wrong master key stops start-up", func(t *testing.T) {
			_, err := OpenKeyring(ctx, st, masterKey(t), Options{Logger: quiet()})
			if !errors.Is(err, ErrWrongMasterKey) {
				t.Fatalf("err = %v, want ErrWrongMasterKey", err)
			}
			want := "the master key does not match this database's keyring: start Sluice with the master key it was created with (SLUICE_MASTER_KEY / --master-key-file)"
			if !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("message %q", err)
			}
			// Nothing was added by the failed start.
			if terms, _ := st.Reader().KeyringTerms(ctx); len(terms) != 1 {
				t.Fatalf("%d terms after a failed start", len(terms))
			}
		})

		t.Run("a sealed data key cannot move to another term", func(t *testing.T) {
			terms, _ := st.Reader().KeyringTerms(ctx)
			if _, err := k.unsealDataKey(2, terms[0].SealedKey); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("term 1's key opened as term 2's: %v", err)
			}
		})
	})
}

// TestKeyringSeesTermsOfOtherNodes: a rotation made by another process (the
// command line, another node) is picked up: its ciphertexts open here at
// once, and sealing moves to the new term at the next refresh.
func TestKeyringSeesTermsOfOtherNodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		mk := masterKey(t)
		node1, node2 := openKeyring(t, st, mk), openKeyring(t, st, mk)
		old, err := node1.Seal([]byte("old"), here)
		if err != nil {
			t.Fatal(err)
		}
		node2.SetQueue(nopQueue{})
		if _, err := node2.Rotate(ctx, auditActor()); err != nil {
			t.Fatal(err)
		}
		ct, err := node2.Seal([]byte("fresh"), here)
		if err != nil {
			t.Fatal(err)
		}
		if term, _ := TermOf(ct); term != 2 {
			t.Fatalf("the rotating node seals under term %d", term)
		}
		if node1.CurrentTerm() != 1 {
			t.Fatal("node 1 moved without a refresh")
		}
		got, err := node1.Open(ct, here)
		if err != nil || string(got) != "fresh" {
			t.Fatalf("node 1 cannot open term 2: %q, %v", got, err)
		}
		if node1.CurrentTerm() != 2 {
			t.Fatalf("node 1 seals under term %d after learning term 2", node1.CurrentTerm())
		}
		// The old term still opens; relabelled as the new (existing) term,
		// the same value does not.
		if got, err := node2.Open(old, here); err != nil || string(got) != "old" {
			t.Fatalf("term 1 after the rotation: %q, %v", got, err)
		}
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(old, Prefix))
		binary.BigEndian.PutUint32(raw[1:5], 2)
		relabelled := Prefix + base64.StdEncoding.EncodeToString(raw)
		if got, err := node2.Open(relabelled, here); !errors.Is(err, ErrDecrypt) || errors.Is(err, ErrUnknownTerm) || got != nil {
			t.Fatalf("term 1 value relabelled as term 2: %q, %v", got, err)
		}
	})
}
