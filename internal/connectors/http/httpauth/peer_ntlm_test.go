package httpauth

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	ntlmssp "github.com/Azure/go-ntlmssp"

	"github.com/sluice-dev/sluice/internal/connectors/http/httpauth/peertest"
)

// The NTLM peer: gss-ntlmssp (the GSSAPI NTLMSSP mechanism) through
// python3-gssapi (testdata/peers/ntlm_acceptor.py), NTLMv2 only
// (LM_COMPAT_LEVEL=5), with its accounts in an NTLM_USER_FILE.

const ntlmAlicePassword = "P\u00e4ssw\u00f6rd 1" // non-ASCII on purpose

func startNTLMPeer(t *testing.T, scheme string) string {
	t.Helper()
	return peertest.StartNTLMAcceptor(t, peertest.NTLMOptions{Scheme: scheme, Accounts: []peertest.NTLMAccount{
		{Domain: "TESTDOM", Username: "alice", Password: ntlmAlicePassword},
		{Domain: "TESTDOM", Username: "bob", Password: "bobs secret"},
	}})
}

type ntlmAnswer struct {
	User string `json:"user"`
	Body string `json:"body"`
}

func ntlmPost(t *testing.T, rt http.RoundTripper, url, body string) (int, ntlmAnswer) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a ntlmAnswer
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &a)
	return resp.StatusCode, a
}

func TestNTLMAgainstGSSNTLMSSP(t *testing.T) {
	for _, scheme := range []string{"NTLM", "Negotiate"} {
		t.Run(scheme, func(t *testing.T) {
			url := startNTLMPeer(t, scheme)
			shared := &http.Transport{}
			t.Cleanup(shared.CloseIdleConnections)
			alice := mustNew(t, Config{Type: TypeNTLM, NTLM: &NTLM{Domain: "TESTDOM", Username: "alice", Password: ntlmAlicePassword}}, shared, Options{BaseURL: url})
			for i := range 2 { // the second request rides on the authenticated connection
				status, a := ntlmPost(t, alice, url+"/api/data/v9.2/accounts", `{"name":"Contoso"}`)
				if status != 200 || a.User != `TESTDOM\alice` || a.Body != `{"name":"Contoso"}` {
					t.Fatalf("request %d: %d %+v", i+1, status, a)
				}
			}
			wrong := mustNew(t, Config{Type: TypeNTLM, NTLM: &NTLM{Domain: "TESTDOM", Username: "alice", Password: "wrong"}}, shared, Options{BaseURL: url})
			if status, a := ntlmPost(t, wrong, url+"/x", "a"); status != 401 {
				t.Fatalf("wrong password: %d %+v, want 401", status, a)
			}
			bob := mustNew(t, Config{Type: TypeNTLM, NTLM: &NTLM{Domain: "TESTDOM", Username: "bob", Password: "bobs secret"}}, shared, Options{BaseURL: url})
			if status, a := ntlmPost(t, bob, url+"/x", "b"); status != 200 || a.User != `TESTDOM\bob` {
				t.Fatalf("bob: %d %+v", status, a)
			}
		})
	}
}

// TestNTLMConnectionsAreNotShared shows why every NTLM signer gets its own
// connections. With go-ntlmssp's Negotiator straight on a shared transport,
// a request with a wrong password goes out on the connection alice
// authenticated and is served as alice. Through New on the same shared
// transport it gets its own connection and is refused.
func TestNTLMConnectionsAreNotShared(t *testing.T) {
	url := startNTLMPeer(t, "NTLM")
	shared := &http.Transport{}
	t.Cleanup(shared.CloseIdleConnections)
	post := func(rt http.RoundTripper, user, pass string) (int, ntlmAnswer) {
		req, _ := http.NewRequest("GET", url+"/x", nil)
		req.SetBasicAuth(user, pass)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a ntlmAnswer
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &a)
		return resp.StatusCode, a
	}
	naive := ntlmssp.Negotiator{RoundTripper: shared}
	if status, a := post(naive, `TESTDOM\alice`, ntlmAlicePassword); status != 200 {
		t.Fatalf("alice: %d %+v", status, a)
	}
	// The peer binds authentication to the connection, as IIS does: a
	// wrong password on a shared pool is served as alice.
	if status, a := post(naive, `TESTDOM\bob`, "wrong"); status != 200 || a.User != `TESTDOM\alice` {
		t.Fatalf("control: want the shared connection to answer as alice, got %d %+v", status, a)
	}
	ours := mustNew(t, Config{Type: TypeNTLM, NTLM: &NTLM{Domain: "TESTDOM", Username: "bob", Password: "wrong"}}, shared, Options{BaseURL: url})
	if status, a := ntlmPost(t, ours, url+"/x", ""); status != 401 {
		t.Fatalf("a wrong password through New on the shared transport got %d %+v, want 401", status, a)
	}
}
