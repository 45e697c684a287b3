package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
)

// errorResponse decodes the standard error body; Details is a pointer-free
// slice so a missing "details" key decodes as nil.
type errorResponse struct {
	Error struct {
		Code    string   `json:"code"`
		Message string   `json:"message"`
		Details []Detail `json:"details"`
	} `json:"error"`
}

// captureLogger returns a JSON logger writing into the returned buffer.
func captureLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		wantStatus  int
		wantCode    string
		wantMessage string // substring
		wantDetails int
		wantLogged  bool   // logged at Error level with the real error
		notInBody   string // must not reach the client
	}{
		{name: "bad request with details", err: BadRequest("invalid_name", "name is required", Detail{Field: "name", Message: "required"}),
			wantStatus: 400, wantCode: "invalid_name", wantMessage: "name is required", wantDetails: 1},
		{name: "unauthorized", err: Unauthorized("sign in"), wantStatus: 401, wantCode: "unauthorized"},
		{name: "forbidden", err: Forbidden("no"), wantStatus: 403, wantCode: "forbidden"},
		{name: "not found", err: NotFound("no such pipe"), wantStatus: 404, wantCode: "not_found", wantMessage: "no such pipe"},
		{name: "conflict", err: Conflict("name_taken", "taken"), wantStatus: 409, wantCode: "name_taken"},
		{name: "too many requests", err: TooManyRequests("slow down", time.Second), wantStatus: 429, wantCode: "too_many_requests"},
		{name: "unprocessable", err: Unprocessable("invalid_flow", "bad flow", Detail{Message: "a"}, Detail{Message: "b"}),
			wantStatus: 422, wantCode: "invalid_flow", wantDetails: 2},
		{name: "unsupported media type", err: UnsupportedMediaType("json please"), wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "too large", err: TooLarge("smaller"), wantStatus: 413, wantCode: "body_too_large"},
		{name: "wrapped httpx error", err: fmt.Errorf("create pipe: %w", Forbidden("nope")), wantStatus: 403, wantCode: "forbidden"},
		{name: "store not found", err: fmt.Errorf("get pipe 7: %w", store.ErrNotFound), wantStatus: 404, wantCode: "not_found", notInBody: "pipe 7"},
		{name: "store conflict", err: fmt.Errorf("create user: %w", store.ErrConflict), wantStatus: 409, wantCode: "conflict", notInBody: "create user"},
		{name: "max bytes error", err: fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 10}), wantStatus: 413, wantCode: "body_too_large", wantMessage: "10-byte"},
		{name: "canceled", err: fmt.Errorf("query: %w", context.Canceled), wantStatus: 499, wantCode: "client_closed_request"},
		{name: "unknown error hidden", err: errors.New("pq: password authentication failed for user sluice"),
			wantStatus: 500, wantCode: "internal", wantMessage: "internal error (request ", wantLogged: true, notInBody: "password"},
		{name: "typed nil *Error is a bug", err: (*Error)(nil), wantStatus: 500, wantCode: "internal", wantLogged: true},
		{name: "nil error is a bug", err: nil, wantStatus: 500, wantCode: "internal", wantLogged: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, logs := captureLogger()
			var handler http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				WriteError(w, r, tt.err)
			})
			handler = RequestID(Logger(log)(handler))
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/x", nil))

			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			var got errorResponse
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if got.Error.Code != tt.wantCode {
				t.Errorf("code = %q, want %q", got.Error.Code, tt.wantCode)
			}
			if !strings.Contains(got.Error.Message, tt.wantMessage) {
				t.Errorf("message = %q, want it to contain %q", got.Error.Message, tt.wantMessage)
			}
			if len(got.Error.Details) != tt.wantDetails {
				t.Errorf("details = %v, want %d", got.Error.Details, tt.wantDetails)
			}
			if tt.wantDetails == 0 && strings.Contains(w.Body.String(), "details") {
				t.Errorf("empty details should be omitted: %s", w.Body)
			}
			if tt.notInBody != "" && strings.Contains(w.Body.String(), tt.notInBody) {
				t.Errorf("body leaks %q: %s", tt.notInBody, w.Body)
			}
			logged := strings.Contains(logs.String(), `"level":"ERROR"`)
			if logged != tt.wantLogged {
				t.Errorf("error logged = %v, want %v; log: %s", logged, tt.wantLogged, logs)
			}
			if tt.wantLogged {
				id := w.Header().Get("X-Request-Id")
				if !strings.Contains(got.Error.Message, id) {
					t.Errorf("message %q does not carry request id %q", got.Error.Message, id)
				}
				if !strings.Contains(logs.String(), `"request_id":"`+id+`"`) {
					t.Errorf("error log lacks request_id: %s", logs)
				}
				if tt.err != nil && tt.err != error((*Error)(nil)) && !strings.Contains(logs.String(), tt.err.Error()) {
					t.Errorf("error log lacks the real error: %s", logs)
				}
			}
		})
	}
}

func TestWriteErrorWithoutMiddleware(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, httptest.NewRequest("GET", "/", nil), errors.New("boom"))
	var got errorResponse
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if w.Code != 500 || got.Error.Message != "internal error" {
		t.Fatalf("got %d %q, want 500 \"internal error\"", w.Code, got.Error.Message)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{name: "whole seconds", err: TooManyRequests("x", 3*time.Second), want: "3"},
		{name: "rounded up", err: TooManyRequests("x", 1500*time.Millisecond), want: "2"},
		{name: "just over", err: TooManyRequests("x", time.Second+time.Nanosecond), want: "2"},
		{name: "sub-second is one", err: TooManyRequests("x", time.Millisecond), want: "1"},
		{name: "zero is one", err: TooManyRequests("x", 0), want: "1"},
		{name: "negative is one", err: TooManyRequests("x", -time.Second), want: "1"},
		{name: "other statuses only when set", err: &Error{Status: 503, Code: "unavailable", Message: "x", RetryAfter: 30 * time.Second}, want: "30"},
		{name: "absent otherwise", err: BadRequest("x", "y"), want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, httptest.NewRequest("GET", "/", nil), tt.err)
			if got := w.Header().Get("Retry-After"); got != tt.want {
				t.Fatalf("Retry-After = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		v          any
		wantStatus int
		wantBody   string
	}{
		{name: "object", status: 201, v: map[string]string{"id": "p1"}, wantStatus: 201, wantBody: `{"id":"p1"}` + "\n"},
		{name: "array", status: 200, v: []int{1, 2}, wantStatus: 200, wantBody: "[1,2]\n"},
		{name: "no content has no body", status: 204, v: nil, wantStatus: 204, wantBody: ""},
		{name: "unencodable becomes 500", status: 200, v: map[string]any{"f": func() {}}, wantStatus: 500, wantBody: `{"error":{"code":"internal","message":"internal error"}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteJSON(w, tt.status, tt.v)
			if w.Code != tt.wantStatus || w.Body.String() != tt.wantBody {
				t.Fatalf("got %d %q, want %d %q", w.Code, w.Body, tt.wantStatus, tt.wantBody)
			}
			if tt.wantBody != "" && w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", w.Header().Get("Content-Type"))
			}
		})
	}
}
