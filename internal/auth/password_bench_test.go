package auth

import (
	"testing"
	"time"
)

// These benchmarks measure argon2id at DefaultParams, the cost every login
// pays. Run them with
//
//	go test -run '^$' -bench . -benchmem ./internal/auth/
//
// ns/op is the time of one hash or verification; logins/s/core is its
// inverse (one goroutine, one core). The parallel benchmark runs one
// verification per GOMAXPROCS goroutine and reports logins/s for the whole
// machine. Nothing here asserts a time: bench/README.md records the figures.

const benchPassword = "correct horse battery staple"

// reportLoginsPerSec reports n operations over elapsed as a rate.
func reportLoginsPerSec(b *testing.B, n int, elapsed time.Duration, unit string) {
	if n > 0 && elapsed > 0 {
		b.ReportMetric(float64(n)/elapsed.Seconds(), unit)
	}
}

// BenchmarkHashPassword is the cost of hashing a new password (account
// creation, password change, rehash at login).
func BenchmarkHashPassword(b *testing.B) {
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		if _, err := HashPassword(benchPassword, DefaultParams); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportLoginsPerSec(b, n, time.Since(start), "hashes/s/core")
}

// BenchmarkVerifyPassword is the cost of one login's password check (and of
// DummyVerify for an unknown email, which does the same work).
func BenchmarkVerifyPassword(b *testing.B) {
	phc, err := HashPassword(benchPassword, DefaultParams)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		ok, _, err := VerifyPassword(benchPassword, phc, DefaultParams)
		if err != nil || !ok {
			b.Fatalf("VerifyPassword = %v, %v", ok, err)
		}
		n++
	}
	reportLoginsPerSec(b, n, time.Since(start), "logins/s/core")
}

// BenchmarkVerifyPasswordParallel verifies on every core at once: the
// ceiling on logins per second of the machine, and how well argon2id's
// memory-bound work scales across cores.
func BenchmarkVerifyPasswordParallel(b *testing.B) {
	phc, err := HashPassword(benchPassword, DefaultParams)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer() // leave the setup hash out of ns/op and B/op
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ok, _, err := VerifyPassword(benchPassword, phc, DefaultParams)
			if err != nil || !ok {
				b.Errorf("VerifyPassword = %v, %v", ok, err)
				return
			}
		}
	})
	reportLoginsPerSec(b, b.N, time.Since(start), "logins/s")
}
