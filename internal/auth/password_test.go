package auth

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// cheapParams keep tests fast; DefaultParams are exercised once.
var cheapParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashPasswordDefaultFormat(t *testing.T) {
	phc, err := HashPassword("correct horse battery staple", DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(phc) {
		t.Fatalf("PHC string %q does not match %s", phc, re)
	}
	ok, rehash, err := VerifyPassword("correct horse battery staple", phc, DefaultParams)
	if !ok || rehash || err != nil {
		t.Fatalf("VerifyPassword = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestHashPasswordSaltsDiffer(t *testing.T) {
	a, err := HashPassword("same password twice", cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	b, err := HashPassword("same password twice", cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two hashes of one password are equal: %q", a)
	}
}

func TestHashPasswordRejects(t *testing.T) {
	tests := []struct {
		name     string
		password string
		params   Params
		want     error
	}{
		{"zero params", "long enough password", Params{}, ErrInvalidParams},
		{"zero time", "long enough password", Params{Memory: 64, Threads: 1, SaltLen: 16, KeyLen: 32}, ErrInvalidParams},
		{"memory over 1 GiB", "long enough password", Params{Memory: 1<<20 + 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, ErrInvalidParams},
		{"short salt", "long enough password", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}, ErrInvalidParams},
		{"short key", "long enough password", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8}, ErrInvalidParams},
		{"too long", strings.Repeat("x", MaxPasswordLen+1), cheapParams, ErrPasswordTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			phc, err := HashPassword(tt.password, tt.params)
			if !errors.Is(err, tt.want) || phc != "" {
				t.Fatalf("HashPassword = %q, %v; want error %v", phc, err, tt.want)
			}
		})
	}
}

// TestVerifyPasswordReference checks hashes made by the reference argon2
// command-line tool (Debian package argon2), so the PHC format and the
// derivation agree with other implementations.
func TestVerifyPasswordReference(t *testing.T) {
	tests := []struct {
		name     string
		password string
		phc      string
	}{
		{"m=1024 t=2 p=1", "correct horse battery staple",
			"$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Jl9aMRiFdmA52uqiivDqYVot6fVz3erNUlWPoxyg46A"},
		{"m=512 t=3 p=2 key 16", "Tr0ub4dor&3 is not enough",
			"$argon2id$v=19$m=512,t=3,p=2$c2FsdHNhbHRzYWx0c2FsdA$tHTzfoGIIafnuRkAJUlbpA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, _, err := VerifyPassword(tt.password, tt.phc, DefaultParams)
			if !ok || err != nil {
				t.Fatalf("right password: VerifyPassword = %v, %v; want true, nil", ok, err)
			}
			ok, _, err = VerifyPassword(tt.password+"!", tt.phc, DefaultParams)
			if ok || err != nil {
				t.Fatalf("wrong password: VerifyPassword = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

func TestVerifyPasswordWrong(t *testing.T) {
	phc, err := HashPassword("Correct Horse Battery", cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		password string
		want     bool
	}{
		{"right", "Correct Horse Battery", true},
		{"case differs", "correct horse battery", false},
		{"trailing space", "Correct Horse Battery ", false},
		{"empty", "", false},
		{"too long", strings.Repeat("y", MaxPasswordLen+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Current params differ, so a right password also asks for a rehash.
			ok, rehash, err := VerifyPassword(tt.password, phc, DefaultParams)
			if ok != tt.want || rehash != tt.want || err != nil {
				t.Fatalf("VerifyPassword = %v, %v, %v; want %v, %v, nil", ok, rehash, err, tt.want, tt.want)
			}
		})
	}
}

func TestVerifyPasswordNeedsRehash(t *testing.T) {
	phc, err := HashPassword("a password to rehash", cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(*Params)) Params { p := cheapParams; f(&p); return p }
	tests := []struct {
		name    string
		current Params
		want    bool
	}{
		{"same", cheapParams, false},
		{"memory", with(func(p *Params) { p.Memory = 128 }), true},
		{"time", with(func(p *Params) { p.Time = 2 }), true},
		{"threads", with(func(p *Params) { p.Threads = 2 }), true},
		{"key length", with(func(p *Params) { p.KeyLen = 64 }), true},
		{"salt length only", with(func(p *Params) { p.SaltLen = 32 }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := VerifyPassword("a password to rehash", phc, tt.current)
			if !ok || rehash != tt.want || err != nil {
				t.Fatalf("VerifyPassword = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.want)
			}
		})
	}
}

func TestVerifyPasswordRejectsMalformed(t *testing.T) {
	const salt, key = "c29tZXNhbHRzb21lc2FsdA", "Jl9aMRiFdmA52uqiivDqYVot6fVz3erNUlWPoxyg46A"
	tests := []struct {
		name string
		phc  string
	}{
		{"empty", ""},
		{"plain text", "correct horse battery staple"},
		{"argon2i", "$argon2i$v=19$m=1024,t=2,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=1024,t=2,p=1$" + salt + "$" + key},
		{"upper-case algorithm", "$ARGON2ID$v=19$m=1024,t=2,p=1$" + salt + "$" + key},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"},
		{"version 16", "$argon2id$v=16$m=1024,t=2,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=1024,t=2,p=1$" + salt + "$" + key},
		{"leading text", "x$argon2id$v=19$m=1024,t=2,p=1$" + salt + "$" + key},
		{"trailing dollar", "$argon2id$v=19$m=1024,t=2,p=1$" + salt + "$" + key + "$"},
		{"params out of order", "$argon2id$v=19$t=2,m=1024,p=1$" + salt + "$" + key},
		{"missing param", "$argon2id$v=19$m=1024,t=2$" + salt + "$" + key},
		{"extra param", "$argon2id$v=19$m=1024,t=2,p=1,keyid=x$" + salt + "$" + key},
		{"leading zero", "$argon2id$v=19$m=01024,t=2,p=1$" + salt + "$" + key},
		{"plus sign", "$argon2id$v=19$m=+1024,t=2,p=1$" + salt + "$" + key},
		{"negative", "$argon2id$v=19$m=-1024,t=2,p=1$" + salt + "$" + key},
		{"space", "$argon2id$v=19$m=1024, t=2,p=1$" + salt + "$" + key},
		{"memory over 1 GiB", "$argon2id$v=19$m=1048577,t=2,p=1$" + salt + "$" + key},
		{"memory overflows uint32", "$argon2id$v=19$m=4294967296,t=2,p=1$" + salt + "$" + key},
		{"time over 20", "$argon2id$v=19$m=1024,t=21,p=1$" + salt + "$" + key},
		{"time zero", "$argon2id$v=19$m=1024,t=0,p=1$" + salt + "$" + key},
		{"threads zero", "$argon2id$v=19$m=1024,t=2,p=0$" + salt + "$" + key},
		{"threads over 16", "$argon2id$v=19$m=1024,t=2,p=17$" + salt + "$" + key},
		{"threads over uint8", "$argon2id$v=19$m=1024,t=2,p=257$" + salt + "$" + key},
		{"memory below 8 KiB per thread", "$argon2id$v=19$m=8,t=2,p=2$" + salt + "$" + key},
		{"salt not base64", "$argon2id$v=19$m=1024,t=2,p=1$!!!!$" + key},
		{"salt padded", "$argon2id$v=19$m=1024,t=2,p=1$" + salt + "==$" + key},
		{"salt too short", "$argon2id$v=19$m=1024,t=2,p=1$c29tZQ$" + key},
		{"salt empty", "$argon2id$v=19$m=1024,t=2,p=1$$" + key},
		{"hash not base64", "$argon2id$v=19$m=1024,t=2,p=1$" + salt + "$" + key[:42] + "-"},
		{"hash non-canonical bits", "$argon2id$v=19$m=1024,t=2,p=1$" + salt + "$" + key[:42] + "B"},
		{"hash too short", "$argon2id$v=19$m=1024,t=2,p=1$" + salt + "$c29tZXNhbHQ"},
		{"hash empty", "$argon2id$v=19$m=1024,t=2,p=1$" + salt + "$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := VerifyPassword("correct horse battery staple", tt.phc, DefaultParams)
			if ok || rehash || !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("VerifyPassword = %v, %v, %v; want false, false, ErrInvalidHash", ok, rehash, err)
			}
		})
	}
}

// TestDummyVerify checks that the dummy hash takes the same path as a real
// failed verification: it parses, is hashed, and never matches. Timing
// itself is not asserted.
func TestDummyVerify(t *testing.T) {
	tests := []struct {
		name   string
		params Params
	}{
		{"default", DefaultParams},
		{"cheap", cheapParams},
		{"two threads", Params{Memory: 64, Time: 1, Threads: 2, SaltLen: 8, KeyLen: 16}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			phc := dummyPHC(tt.params)
			stored, _, _, err := parsePHC(phc)
			if err != nil {
				t.Fatalf("dummy hash %q does not parse: %v", phc, err)
			}
			if stored != tt.params {
				t.Fatalf("dummy hash params = %+v; want %+v", stored, tt.params)
			}
			for _, pw := range []string{"", "correct horse battery staple", strings.Repeat("z", MaxPasswordLen)} {
				if ok, _, err := VerifyPassword(pw, phc, tt.params); ok || err != nil {
					t.Fatalf("VerifyPassword(%q, dummy) = %v, %v; want false, nil", pw, ok, err)
				}
			}
			DummyVerify("correct horse battery staple", tt.params)
		})
	}
	// Out-of-bounds params fall back to the defaults instead of panicking
	// or allocating without limit.
	DummyVerify("anything", Params{})
	DummyVerify("anything", Params{Memory: 1, Time: 1, Threads: 1, SaltLen: 1 << 31, KeyLen: 32})
}
