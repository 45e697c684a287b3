package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandle: the bare handler answers what the W2 flow answers for the
// order in bench/w2/call.lua, and 400 for a body that is not JSON.
func TestHandle(t *testing.T) {
	body := `{"order_no":"SO-1001","customer":"ACME-7","lines":[{"sku":"A-1","qty":2},{"sku":"B-2","qty":3},{"sku":"C-3","qty":1}]}`
	w := httptest.NewRecorder()
	handle(w, httptest.NewRequest("POST", "/", strings.NewReader(body)))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", w.Code, w.Body)
	}
	if got, want := w.Body.String(), `{"status":"accepted","order_no":"SO-1001","qty":6}`; got != want {
		t.Errorf("answer %s, want %s", got, want)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}

	w = httptest.NewRecorder()
	handle(w, httptest.NewRequest("POST", "/", strings.NewReader(`{"order_no":`)))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "not a JSON order") {
		t.Errorf("bad body: status %d, body %s", w.Code, w.Body)
	}
}

// TestRunRefusesNonLoopback: the baseline never listens beyond loopback.
func TestRunRefusesNonLoopback(t *testing.T) {
	err := run("0.0.0.0:0")
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("run(0.0.0.0:0) = %v, want a loopback error", err)
	}
}
