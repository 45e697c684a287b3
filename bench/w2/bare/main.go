// Command bare is the baseline of bench/w2/run.sh: a bare net/http server
// on loopback that decodes the JSON order every POST carries and answers
// what the W2 flow's map and respond steps make of it,
// {"status":"accepted","order_no":...,"qty":<sum of lines[].qty>}, with no
// middleware, no authentication, no run record and no database. Sluice's
// POST /call requests/s are quoted as a ratio to this server's, measured in
// the same run on the same machine.
//
// A body that is not such an order gets 400. It prints
// "listening http://ADDR" on stdout once it accepts connections and stops
// on SIGINT or SIGTERM.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/sluice-dev/sluice/bench/internal/loopback"
)

// order is the request body; the flow reads the same fields.
type order struct {
	OrderNo string `json:"order_no"`
	Lines   []struct {
		Qty float64 `json:"qty"`
	} `json:"lines"`
}

// answer is the flow's respond output.
type answer struct {
	Status  string  `json:"status"`
	OrderNo string  `json:"order_no"`
	Qty     float64 `json:"qty"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on (port 0 picks a free port)")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}

func handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	var o order
	if err := json.Unmarshal(body, &o); err != nil {
		http.Error(w, "the body is not a JSON order: "+err.Error(), http.StatusBadRequest)
		return
	}
	a := answer{Status: "accepted", OrderNo: o.OrderNo}
	for _, l := range o.Lines {
		a.Qty += l.Qty
	}
	b, err := json.Marshal(a)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func run(addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /", handle)
	return loopback.Serve(addr, mux)
}
