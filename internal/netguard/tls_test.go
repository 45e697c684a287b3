package netguard

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"
)

func TestServerTLSConfig(t *testing.T) {
	c := ServerTLSConfig()
	if c.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want TLS 1.2", c.MinVersion)
	}
	if c.MaxVersion != 0 && c.MaxVersion < tls.VersionTLS13 {
		t.Errorf("MaxVersion = %x blocks TLS 1.3", c.MaxVersion)
	}
	if len(c.CipherSuites) == 0 {
		t.Fatal("no cipher suites pinned for TLS 1.2")
	}
	insecure := tls.InsecureCipherSuites()
	for _, id := range c.CipherSuites {
		for _, s := range insecure {
			if s.ID == id {
				t.Errorf("insecure suite %s allowed", s.Name)
			}
		}
		name := tls.CipherSuiteName(id)
		ecdhe := strings.HasPrefix(name, "TLS_ECDHE_")
		aead := slices.ContainsFunc([]string{"_GCM_", "_CHACHA20_POLY1305"}, func(s string) bool { return strings.Contains(name, s) })
		if !ecdhe || !aead {
			t.Errorf("suite %s is not ECDHE with an AEAD", name)
		}
	}
	if !slices.Equal(c.CurvePreferences, []tls.CurveID{tls.X25519, tls.CurveP256}) {
		t.Errorf("CurvePreferences = %v, want X25519, P-256", c.CurvePreferences)
	}
	if ServerTLSConfig() == c {
		t.Error("ServerTLSConfig must return a fresh value each call")
	}
}
