package secrets

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// Project Wycheproof's AES-GCM vectors with 256-bit keys and 96-bit IVs
// (testdata/NOTICE.wycheproof says where they come from), run through the
// same newAEAD, sealAEAD and openAEAD the keyring seals and opens with.
// Valid vectors must encrypt to exactly the published ciphertext and tag
// and decrypt back; invalid ones (modified tags) must fail to open with
// ErrDecrypt and no plaintext.
func TestWycheproofAESGCM(t *testing.T) {
	raw, err := os.ReadFile("testdata/wycheproof_aes_gcm_256_96.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Algorithm  string `json:"algorithm"`
		TestGroups []struct {
			IVSize  int `json:"ivSize"`
			KeySize int `json:"keySize"`
			TagSize int `json:"tagSize"`
			Tests   []struct {
				TcID    int    `json:"tcId"`
				Comment string `json:"comment"`
				Key     string `json:"key"`
				IV      string `json:"iv"`
				AAD     string `json:"aad"`
				Msg     string `json:"msg"`
				CT      string `json:"ct"`
				Tag     string `json:"tag"`
				Result  string `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if file.Algorithm != "AES-GCM" {
		t.Fatalf("algorithm %q", file.Algorithm)
	}
	unhex := func(s string) []byte {
		t.Helper()
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatalf("bad hex in test vector: %v", err)
		}
		return b
	}
	valid, invalid := 0, 0
	for _, g := range file.TestGroups {
		if g.KeySize != 256 || g.IVSize != 96 || g.TagSize != 128 {
			t.Fatalf("group %d/%d/%d is not what the keyring uses", g.KeySize, g.IVSize, g.TagSize)
		}
		for _, tc := range g.Tests {
			key, iv, aad, msg := unhex(tc.Key), unhex(tc.IV), unhex(tc.AAD), unhex(tc.Msg)
			box := append(unhex(tc.CT), unhex(tc.Tag)...)
			a, err := newAEAD(key)
			if err != nil {
				t.Fatalf("tcId %d: %v", tc.TcID, err)
			}
			switch tc.Result {
			case "valid":
				valid++
				if got := sealAEAD(a, nil, iv, msg, aad); !bytes.Equal(got, box) {
					t.Errorf("tcId %d (%s): sealed %x, want %x", tc.TcID, tc.Comment, got, box)
				}
				got, err := openAEAD(a, iv, box, aad)
				if err != nil || !bytes.Equal(got, msg) {
					t.Errorf("tcId %d (%s): open = %x, %v; want %x", tc.TcID, tc.Comment, got, err, msg)
				}
			case "invalid":
				invalid++
				got, err := openAEAD(a, iv, box, aad)
				if !errors.Is(err, ErrDecrypt) || got != nil {
					t.Errorf("tcId %d (%s): an invalid ciphertext opened: %x, %v", tc.TcID, tc.Comment, got, err)
				}
			default:
				t.Fatalf("tcId %d: result %q", tc.TcID, tc.Result)
			}
		}
	}
	// The file is the published group, whole: 21 valid vectors and 27
	// with a modified tag.
	if valid != 21 || invalid != 27 {
		t.Fatalf("ran %d valid and %d invalid vectors, want 21 and 27", valid, invalid)
	}
}

// TestAEADRefusesOtherKeySizes: AES-128 and AES-192 keys are refused even
// though the standard library would accept them.
func TestAEADRefusesOtherKeySizes(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := newAEAD(make([]byte, n)); err == nil {
			t.Errorf("a %d-byte key was accepted", n)
		}
	}
	a, err := newAEAD(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	// Wrong nonce lengths and short input are errors, not panics.
	for _, nonce := range [][]byte{nil, make([]byte, 8), make([]byte, 16)} {
		if _, err := openAEAD(a, nonce, make([]byte, 32), nil); !errors.Is(err, ErrDecrypt) {
			t.Errorf("nonce of %d bytes: %v", len(nonce), err)
		}
	}
	for n := 0; n < tagSize; n++ {
		if _, err := openAEAD(a, make([]byte, 12), make([]byte, n), nil); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%d-byte box: %v", n, err)
		}
	}
}
