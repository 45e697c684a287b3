// Command bare is the baseline of bench/run.sh: a bare net/http server on
// loopback that answers every GET with a small JSON body shaped like
// Sluice's GET /api/v1/me answer (about the same size), with no middleware,
// no authentication and no database. Sluice's requests/s are quoted as a
// ratio to this server's, measured in the same run on the same machine.
//
// It prints "listening http://ADDR" on stdout once it accepts connections
// and stops on SIGINT or SIGTERM.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/sluice-dev/sluice/bench/internal/loopback"
)

// me has the fields of Sluice's /api/v1/me answer for an API key, so the
// encoded body is of the same size and the same encoding work is done.
type me struct {
	APIKeyID string `json:"api_key_id"`
	Auth     string `json:"auth"`
	User     user   `json:"user"`
}

type user struct {
	ID          string    `json:"id"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	Admin       bool      `json:"admin"`
	Disabled    bool      `json:"disabled"`
	TOTPEnabled bool      `json:"totp_enabled"`
	CreatedAt   time.Time `json:"created_at"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on (port 0 picks a free port)")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	body := me{
		APIKeyID: "01JDZ4V6K7M8N9P0Q1R2S3T4V5",
		Auth:     "api_key",
		User: user{
			ID:        "01JDZ4TZ0A1B2C3D4E5F6G7H8J",
			Email:     "bench@example.com",
			Name:      "Bench",
			Admin:     true,
			CreatedAt: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC),
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		b, err := json.Marshal(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
	})

	return loopback.Serve(addr, mux)
}
