package api

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"golang.org/x/time/rate"

	"github.com/sluice-dev/sluice/internal/consumer"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// MaxCallBody bounds the body of a dynamic call.
const MaxCallBody = 1 << 20

// MaxCallRecords bounds the records of one dynamic call (an array body).
const MaxCallRecords = 1000

// HeaderRunID names the run a dynamic call made, on every answer that
// made one.
const HeaderRunID = "X-Sluice-Run-Id"

// callLimits holds a rate limiter per consumer, rebuilt when its limit
// changes.
type callLimits struct {
	mu sync.Mutex
	by map[string]*callLimit
}

type callLimit struct {
	rate consumer.RateLimit
	lim  *rate.Limiter
}

func (l *callLimits) allow(c *consumer.Consumer) (bool, *rate.Reservation) {
	l.mu.Lock()
	if l.by == nil {
		l.by = map[string]*callLimit{}
	}
	cl := l.by[c.Row.ID]
	if cl == nil || cl.rate != c.RateLimit {
		cl = &callLimit{rate: c.RateLimit, lim: rate.NewLimiter(rate.Limit(c.RateLimit.PerSecond), max(c.RateLimit.Burst, 1))}
		l.by[c.Row.ID] = cl
	}
	l.mu.Unlock()
	if cl.lim.Allow() {
		return true, nil
	}
	return false, cl.lim.Reserve()
}

// callFlow answers POST /call/{project}/{flow}, in this order: the body is
// read (at most MaxCallBody), the consumer authenticated (over the raw
// body, for signed webhooks) and checked against the flow and its IP
// allowlist, its rate limit applied, then the body parsed and the flow
// run: a sync flow answers with its respond output, an async one 202 with
// the run ID.
func (a *API) callFlow(w http.ResponseWriter, r *http.Request) {
	projectID, flowID := r.PathValue("project"), r.PathValue("flow")
	body, err := httpx.ReadBody(w, r, MaxCallBody)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	c, err := a.ConsumerAuth.Authenticate(r.Context(), projectID, flowID, r, body)
	if err != nil {
		var ae *consumer.AuthError
		if errors.As(err, &ae) {
			// Refusals say nothing of why: the reason is in the log.
			ae.Headers(w.Header())
			switch ae.Status {
			case http.StatusUnauthorized:
				httpx.WriteError(w, r, httpx.Unauthorized("authentication required"))
			case http.StatusTooManyRequests:
				httpx.WriteError(w, r, httpx.TooManyRequests("too many failed authentications; wait and try again", ae.RetryAfter))
			default:
				httpx.WriteError(w, r, httpx.Forbidden("this consumer may not call this flow from here"))
			}
			return
		}
		httpx.WriteError(w, r, err)
		return
	}
	if ok, res := a.callLimits.allow(c); !ok {
		delay := res.Delay()
		res.Cancel()
		httpx.WriteError(w, r, httpx.TooManyRequests(fmt.Sprintf("consumer %q may make %g calls a second; wait and try again", c.Row.Name, c.RateLimit.PerSecond), delay))
		return
	}
	if err := httpx.CheckJSONType(r); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	v, err := httpx.ParseJSON(body)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	records, many, err := callRecords(v)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	res, err := a.Runs.CallSync(r.Context(), projectID, flowID, c.Row.Name, records)
	if errors.Is(err, runs.ErrWrongMode) {
		run, err := a.Runs.CallAsync(r.Context(), projectID, flowID, c.Row.Name, records)
		if err != nil {
			writeCallError(w, r, err)
			return
		}
		w.Header().Set(HeaderRunID, run.ID)
		httpx.WriteJSON(w, http.StatusAccepted, map[string]any{"run_id": run.ID, "status": run.Status})
		return
	}
	if err != nil {
		writeCallError(w, r, err)
		return
	}
	w.Header().Set(HeaderRunID, res.RunID)
	switch {
	case res.Rejected():
		httpx.WriteError(w, r, httpx.Unprocessable("rejected", "the flow rejected the record: "+firstFailure(res), failureDetails(res)...))
		return
	case res.DestinationFailed():
		e := &httpx.Error{Status: http.StatusBadGateway, Code: "destination_failed",
			Message: "a destination of the flow failed: " + firstFailure(res), Details: failureDetails(res)}
		httpx.WriteError(w, r, e)
		return
	}
	if !many {
		httpx.WriteJSON(w, http.StatusOK, answer(res.Responses[0]))
		return
	}
	out := make([]any, len(res.Responses))
	for i, x := range res.Responses {
		out[i] = answer(x)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// callRecords makes the records of a call's body: an object is one
// record, an array of objects several.
func callRecords(v any) ([]any, bool, error) {
	switch x := v.(type) {
	case map[string]any:
		return []any{x}, false, nil
	case []any:
		if len(x) == 0 {
			return nil, true, httpx.Unprocessable("invalid_body", "the body is an empty array; send a record (a JSON object) or an array of them")
		}
		if len(x) > MaxCallRecords {
			return nil, true, httpx.Unprocessable("invalid_body", fmt.Sprintf("the body holds %d records; send at most %d in one call", len(x), MaxCallRecords))
		}
		for i, e := range x {
			if _, ok := e.(map[string]any); !ok {
				return nil, true, httpx.Unprocessable("invalid_body", fmt.Sprintf("element %d of the body is not a JSON object; every record must be one", i))
			}
		}
		return x, true, nil
	}
	return nil, false, httpx.Unprocessable("invalid_body", "the body is not a record; send a JSON object or an array of them")
}

// answer is what a caller gets for one record: its respond output, or
// null when no respond step answered (the record was filtered out or the
// flow has none).
func answer(x engine.Response) any {
	if x.Responded {
		return x.Value
	}
	return nil
}

func firstFailure(res *runs.CallResult) string {
	for _, x := range res.Responses {
		if x.Failure != nil {
			return x.Failure.Error
		}
	}
	return ""
}

func failureDetails(res *runs.CallResult) []httpx.Detail {
	var ds []httpx.Detail
	for i, x := range res.Responses {
		if x.Failure != nil {
			ds = append(ds, httpx.Detail{Field: fmt.Sprintf("records[%d]", i), Message: fmt.Sprintf("%s (entity %q): %s", x.Failure.Stage, x.Failure.EntityID, x.Failure.Error)})
		}
	}
	return ds
}

// writeCallError answers an error from CallSync or CallAsync.
func writeCallError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		te *runs.TimeoutError
		be *runs.BusyError
		pe *runs.CallPanicError
		se *runs.StartError
	)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, runs.ErrNotCallable):
		httpx.WriteError(w, r, httpx.NotFound("no flow of this project can be called at this address: check the project and flow IDs, and that the flow has trigger.dynamic"))
	case errors.Is(err, runs.ErrFlowDisabled):
		httpx.WriteError(w, r, httpx.Conflict("flow_disabled", err.Error()))
	case errors.As(err, &te):
		w.Header().Set(HeaderRunID, te.RunID)
		httpx.WriteError(w, r, &httpx.Error{Status: http.StatusGatewayTimeout, Code: "timeout",
			Message: fmt.Sprintf("the flow did not answer within %s; its run %s goes on: look it up with GET /api/v1/projects/{p}/runs/%s", te.Timeout, te.RunID, te.RunID)})
	case errors.As(err, &be):
		httpx.WriteError(w, r, &httpx.Error{Status: http.StatusServiceUnavailable, Code: "busy", Message: be.Error(), RetryAfter: be.RetryAfter})
	case errors.As(err, &pe):
		w.Header().Set(HeaderRunID, pe.RunID)
		httpx.WriteError(w, r, &httpx.Error{Status: http.StatusInternalServerError, Code: "internal", Message: pe.Error()})
	case errors.As(err, &se):
		w.Header().Set(HeaderRunID, se.RunID)
		httpx.WriteError(w, r, &httpx.Error{Status: http.StatusBadGateway, Code: "flow_not_started", Message: se.Error()})
	default:
		httpx.WriteError(w, r, err)
	}
}
