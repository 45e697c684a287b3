package httpauth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"reflect"
	"testing"
)

func TestNTLMGetsATransportOfItsOwn(t *testing.T) {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) { return nil, errors.New("guarded") }
	base := &http.Transport{DialContext: dial, ForceAttemptHTTP2: true}
	rt := mustNew(t, Config{Type: TypeNTLM, NTLM: &NTLM{Domain: "D", Username: "u", Password: "p:w"}}, base, Options{BaseURL: "http://erp.example.com"})
	nt := rt.(*ntlmTransport)
	private, ok := nt.private.(*http.Transport)
	if !ok || private == base {
		t.Fatal("the NTLM signer shares the base transport")
	}
	if reflect.ValueOf(private.DialContext).Pointer() != reflect.ValueOf(dial).Pointer() {
		t.Error("the clone lost the egress guard's dialer")
	}
	if private.ForceAttemptHTTP2 || private.Protocols == nil || private.Protocols.HTTP2() || !private.Protocols.HTTP1() {
		t.Errorf("the clone may use HTTP/2: %v", private.Protocols)
	}
	if nt.user != `D\u` || nt.password != "p:w" {
		t.Errorf("credentials %q", nt.user)
	}
	if base.Protocols != nil {
		t.Error("the base transport was changed")
	}

	if _, err := New(Config{Type: TypeNTLM, NTLM: &NTLM{Username: "u", Password: "p"}}, &recorder{}, Options{BaseURL: "http://erp.example.com"}); !errors.Is(err, ErrNTLMNeedsOwnTransport) {
		t.Errorf("a base that cannot be cloned: %v", err)
	}
	if _, err := New(Config{Type: TypeNTLM, NTLM: &NTLM{Username: "u", Password: "p"}}, &recorder{}, Options{BaseURL: "http://erp.example.com", DedicatedTransport: true}); err != nil {
		t.Errorf("DedicatedTransport: %v", err)
	}
}

func TestNTLMSendsNoBasicCredentials(t *testing.T) {
	rec := &recorder{respond: func(r *http.Request) *http.Response {
		resp := answer(r, 401, "")
		resp.Header.Set("WWW-Authenticate", "Basic realm=x")
		return resp
	}}
	rt := mustNew(t, Config{Type: TypeNTLM, NTLM: &NTLM{Username: "u", Password: "p"}}, rec, Options{BaseURL: "http://erp.example.com", DedicatedTransport: true})
	req, _ := http.NewRequest("GET", "http://erp.example.com/x", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, r := range rec.reqs {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("sent Authorization %q to a server asking for Basic", r.Header.Get("Authorization"))
		}
	}
	if req.Header.Get("Authorization") != "" {
		t.Error("the caller's request was changed")
	}
}
