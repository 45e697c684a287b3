package api

import (
	"net/url"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// badQuery is the answer for a query parameter a listing cannot use.
func badQuery(field, msg string) *httpx.Error {
	return httpx.BadRequest("invalid_query", field+" "+msg, httpx.Detail{Field: field, Message: msg})
}

// timeRange reads a listing's since and until (RFC 3339).
func timeRange(q url.Values) (since, until time.Time, err error) {
	for name, dst := range map[string]*time.Time{"since": &since, "until": &until} {
		if v := q.Get(name); v != "" {
			t, perr := time.Parse(time.RFC3339, v)
			if perr != nil {
				return since, until, badQuery(name, "must be an RFC 3339 time such as 2026-11-29T09:00:00Z")
			}
			*dst = t.UTC()
		}
	}
	return since, until, nil
}

// pageLimit reads a listing's limit: 1 to max, 100 when absent.
func pageLimit(q url.Values, max int) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, badQuery("limit", "must be between 1 and "+strconv.Itoa(max))
	}
	return n, nil
}

// nextPage is the link to the page after a full one: the same query with
// the cursor parameter set to the last item's.
func nextPage(path string, q url.Values, param, cursor string) string {
	next := url.Values{}
	for k, vs := range q {
		next[k] = vs
	}
	next.Set(param, cursor)
	return path + "?" + next.Encode()
}

// afterPage reads a forward listing's after cursor (a number from a next
// link) and its limit.
func afterPage(q url.Values, max int) (after int64, limit int, err error) {
	if v := q.Get("after"); v != "" {
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < 0 {
			return 0, 0, badQuery("after", "must be the cursor of a next link")
		}
		after = n
	}
	limit, err = pageLimit(q, max)
	return after, limit, err
}
