package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/consolelog"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

type consoleLogView struct {
	ID        string    `json:"id"`
	PipeID    string    `json:"pipe_id"`
	FlowID    string    `json:"flow_id"`
	RunID     string    `json:"run_id"`
	Bytes     int64     `json:"bytes"`
	Entries   int64     `json:"entries"`
	Capture   []string  `json:"capture"`
	CreatedAt time.Time `json:"created_at"`
}

func viewConsoleLog(l *store.ConsoleLog) consoleLogView {
	v := consoleLogView{ID: l.ID, PipeID: l.PipeID, FlowID: l.FlowID, RunID: l.RunID, Bytes: l.Size, Entries: l.Entries,
		Capture: []string{}, CreatedAt: l.CreatedAt}
	_ = json.Unmarshal([]byte(l.Capture), &v.Capture)
	return v
}

func (a *API) listConsoleLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pid := grant(r).Project.ID
	limit, err := pageLimit(q, 500)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	ls, err := a.Store.Reader().ListConsoleLogs(r.Context(), store.ConsoleLogFilter{ProjectID: pid, PipeID: q.Get("pipe"),
		RunID: q.Get("run"), BeforeID: q.Get("before"), Limit: limit})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	views := make([]consoleLogView, 0, len(ls))
	for _, l := range ls {
		views = append(views, viewConsoleLog(l))
	}
	out := list("console_logs", views)
	if len(ls) == limit {
		out["next"] = nextPage("/api/v1/projects/"+pid+"/console-logs", q, "before", ls[len(ls)-1].ID)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// consoleLogLink answers a link that downloads the log for the caller
// for LinkTTL; issuing it is an audit event.
func (a *API) consoleLogLink(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	pid := grant(r).Project.ID
	l, err := a.Store.Reader().ConsoleLogByID(ctx, pid, r.PathValue("l"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	tok, exp, err := a.ConsoleLogs.IssueLink(ctx, l, principal(r), client(r))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]any{"url": a.BaseURL() + "/downloads/" + tok, "expires_at": exp})
}

// deleteConsoleLog deletes one log: its blob, then its row.
func (a *API) deleteConsoleLog(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	pid := grant(r).Project.ID
	l, err := a.Store.Reader().ConsoleLogByID(ctx, pid, r.PathValue("l"))
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := a.deleteLogs(r, pid, []*store.ConsoleLog{l}, map[string]any{"run_id": l.RunID, "pipe_id": l.PipeID}, "console_log:"+l.ID); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deletePipeConsoleLogs deletes every console log of a pipe
// (?pipe=ID, required), in pages.
func (a *API) deletePipeConsoleLogs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	pid := grant(r).Project.ID
	pipeID := r.URL.Query().Get("pipe")
	if pipeID == "" {
		httpx.WriteError(w, r, httpx.Unprocessable("invalid_query", "name the pipe whose console logs to delete: ?pipe=PIPE_ID (one log: DELETE .../console-logs/{id})",
			httpx.Detail{Field: "pipe", Message: "is required"}))
		return
	}
	if _, err := a.Store.Reader().PipeByID(ctx, pid, pipeID); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	total := 0
	for {
		ls, err := a.Store.Reader().ListConsoleLogs(ctx, store.ConsoleLogFilter{ProjectID: pid, PipeID: pipeID, Limit: 500})
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		if len(ls) == 0 {
			break
		}
		if err := a.deleteLogs(r, pid, ls, map[string]any{"pipe_id": pipeID, "logs": len(ls)}, "pipe:"+pipeID); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		total += len(ls)
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"deleted": total})
}

func (a *API) deleteLogs(r *http.Request, pid string, ls []*store.ConsoleLog, detail map[string]any, target string) error {
	return a.ConsoleLogs.Delete(r.Context(), pid, ls, principal(r), client(r), target, detail)
}

// download serves a signed link: the log's gzip NDJSON, decrypted, for
// the user the link was made for while they may still see the project. A
// bad link is 403 and an expired or deleted one 410, without detail.
func (a *API) download(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := a.ConsoleLogs.Verify(ctx, r.PathValue("token"))
	switch {
	case errors.Is(err, consolelog.ErrBadLink):
		httpx.WriteError(w, r, httpx.Forbidden("this download link is not valid"))
		return
	case errors.Is(err, consolelog.ErrLinkGone):
		httpx.WriteError(w, r, &httpx.Error{Status: http.StatusGone, Code: "gone", Message: "this download link no longer works; ask for a new one"})
		return
	case err != nil:
		httpx.WriteError(w, r, err)
		return
	}
	// The user must still exist and see the project.
	_, rank, err := a.Store.Reader().ProjectForUser(ctx, v.Log.ProjectID, v.UserID)
	if err != nil || !access.Can(access.RoleFromRank(rank), access.ViewProject) {
		httpx.WriteError(w, r, httpx.Forbidden("this download link is not valid"))
		return
	}
	gz, err := a.ConsoleLogs.Open(ctx, v.Log)
	if errors.Is(err, consolelog.ErrLinkGone) {
		httpx.WriteError(w, r, &httpx.Error{Status: http.StatusGone, Code: "gone", Message: "this download link no longer works; ask for a new one"})
		return
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/gzip")
	h.Set("Content-Disposition", `attachment; filename="console-log-`+v.Log.ID+`.ndjson.gz"`)
	h.Set("Content-Length", strconv.Itoa(len(gz)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(gz)
}
