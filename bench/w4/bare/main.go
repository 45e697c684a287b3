// Command bare is the W4 baseline (bench/w4/run.sh): a minimal loop that
// fetches every page of the loopback API (?page=P&per_page=S from 1 until
// a short page), decodes each with encoding/json (UseNumber, records as
// map[string]any, as Sluice decodes them) and counts the records. A 429
// is waited out (its Retry-After) and the page asked for again, as
// Sluice's read does. Nothing is mapped or written. It prints one line:
//
//	records=N pages=P throttled=T elapsed_s=S records_per_s=R
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"time"
)

func main() {
	base := flag.String("base", "", "the API's base URL, e.g. http://127.0.0.1:8080")
	size := flag.Int("size", 500, "records a page")
	flag.Parse()
	if *base == "" {
		log.Fatal("bare: -base is needed")
	}
	c := &http.Client{Timeout: 30 * time.Second}
	start := time.Now()
	var records, pages, throttled int
	for p := 1; ; p++ {
		resp, err := c.Get(*base + "/orders?page=" + strconv.Itoa(p) + "&per_page=" + strconv.Itoa(*size))
		if err != nil {
			log.Fatalf("bare: page %d: %v", p, err)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			s, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			if err != nil || s < 0 {
				s = 1
			}
			throttled++
			time.Sleep(time.Duration(s) * time.Second)
			p--
			continue
		}
		if resp.StatusCode != http.StatusOK {
			log.Fatalf("bare: page %d: status %d", p, resp.StatusCode)
		}
		var page struct {
			Orders []map[string]any `json:"orders"`
		}
		d := json.NewDecoder(resp.Body)
		d.UseNumber()
		err = d.Decode(&page)
		resp.Body.Close()
		if err != nil {
			log.Fatalf("bare: page %d: %v", p, err)
		}
		pages++
		records += len(page.Orders)
		if len(page.Orders) < *size {
			break
		}
	}
	el := time.Since(start).Seconds()
	fmt.Printf("records=%d pages=%d throttled=%d elapsed_s=%.3f records_per_s=%.0f\n", records, pages, throttled, el, float64(records)/el)
}
