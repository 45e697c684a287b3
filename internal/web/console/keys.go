package console

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// adminRoutes are the instance administrator's pages of the keyring
// (keys.go) and of the instance's activity log (activity.go), twins of
// GET /api/v1/keys, POST /api/v1/keys/rotate, GET /api/v1/audit and GET
// /api/v1/audit/verify.
func (c *Console) adminRoutes() []httpx.Route {
	a := httpx.Admin
	return []httpx.Route{
		{Method: "GET", Path: "/admin/keys", Access: a, Handler: c.keysPage},
		{Method: "POST", Path: "/admin/keys/rotate", Access: a, Handler: c.keysRotatePost, Form: true},
		{Method: "GET", Path: "/admin/activity", Access: a, Handler: c.instanceActivityPage},
		{Method: "POST", Path: "/admin/activity/verify", Access: a, Handler: c.verifyActivityPost, Form: true},
	}
}

// errNoKeyring answers the keys pages of a console built without one.
var errNoKeyring = errors.New("console: the keys page has no keyring to show")

// keysData is what keys.html shows.
type keysData struct {
	CurrentTerm int
	Terms       []keyTerm
	// Unsealed counts stored secrets not sealed under any term yet
	// (legacy values kept from before the keyring).
	Unsealed int
	// Rotations are every rotation, newest first; Running the ones whose
	// re-sealing has not finished.
	Rotations []keyRotation
	Running   bool
}

// keyTerm is one term of the keyring and what it still seals.
type keyTerm struct {
	Term      int
	CreatedAt time.Time
	Current   bool
	// Sealed is how many stored items the term seals; Tables says where
	// ("connections 2, users 1").
	Sealed int
	Tables string
}

// keyRotation is one rotation and how far it got.
type keyRotation struct {
	Term       int
	StartedAt  time.Time
	FinishedAt *time.Time
	// Done of Total stored items are re-sealed under Term; Failed did not
	// decrypt and were left as they were.
	Done, Total, Failed int
	// State is "queued" (no worker has taken it yet), "running" or
	// "finished".
	State string
}

// keysView turns the keyring's status into the page's data. The progress
// of a rotation counts, for every table it started, the rows it found to
// re-seal then; for a table it has not reached yet (a running rotation),
// the rows still sealed under an older term.
func keysView(s *secrets.Status) keysData {
	d := keysData{CurrentTerm: s.CurrentTerm}
	type where struct {
		table string
		n     int
	}
	byTerm := map[int][]where{}
	for _, ts := range s.Secrets {
		for term, n := range ts.ByTerm {
			if n > 0 {
				byTerm[term] = append(byTerm[term], where{ts.Table, n})
			}
		}
	}
	for _, w := range byTerm[0] {
		d.Unsealed += w.n
	}
	for _, t := range s.Terms {
		kt := keyTerm{Term: t.Term, CreatedAt: t.CreatedAt, Current: t.Term == s.CurrentTerm}
		ws := byTerm[t.Term]
		sort.Slice(ws, func(i, j int) bool { return ws[i].table < ws[j].table })
		parts := make([]string, 0, len(ws))
		for _, w := range ws {
			kt.Sealed += w.n
			parts = append(parts, fmt.Sprintf("%s %d", w.table, w.n))
		}
		kt.Tables = strings.Join(parts, ", ")
		d.Terms = append(d.Terms, kt)
	}
	sort.Slice(d.Terms, func(i, j int) bool { return d.Terms[i].Term > d.Terms[j].Term })
	for _, r := range s.Rotations {
		kr := keyRotation{Term: r.Term, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, State: "finished"}
		for _, ts := range s.Secrets {
			tp, ok := r.Tables[ts.Table]
			if ok && tp.Started {
				// Done counts over every pass: a later pass re-seals rows
				// written behind the cursor, so it can pass the first
				// pass's count.
				done := min(tp.Done+tp.Changed, tp.Total)
				kr.Done, kr.Total, kr.Failed = kr.Done+done, kr.Total+tp.Total, kr.Failed+tp.Failed
				continue
			}
			if r.FinishedAt != nil {
				continue
			}
			for term, n := range ts.ByTerm {
				if term < r.Term {
					kr.Total += n
				}
			}
		}
		if r.FinishedAt == nil {
			kr.State = "queued"
			if len(r.Tables) > 0 {
				kr.State = "running"
			}
			d.Running = true
		}
		d.Rotations = append(d.Rotations, kr)
	}
	sort.Slice(d.Rotations, func(i, j int) bool { return d.Rotations[i].Term > d.Rotations[j].Term })
	return d
}

func (c *Console) keysPage(w http.ResponseWriter, r *http.Request) {
	notice := ""
	if r.URL.Query().Get("notice") == "rotated" {
		notice = "Rotation started: new secrets are sealed under the new term from now on, and the stored ones are being re-sealed in the background."
	}
	c.renderKeys(w, r, http.StatusOK, page{Notice: notice})
}

// renderKeys shows the keys page with the keyring's current status.
func (c *Console) renderKeys(w http.ResponseWriter, r *http.Request, status int, p page) {
	if c.Services.Keyring == nil {
		c.Fail(w, r, errNoKeyring)
		return
	}
	s, err := c.Services.Keyring.Status(r.Context())
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	d := keysView(s)
	p.Title, p.Data, p.Refresh = "Encryption keys", d, d.Running
	c.render(w, r, status, "keys.html", p)
}

// keysRotatePost starts a rotation, as POST /api/v1/keys/rotate does, once
// the administrator has ticked that they understand what it does.
func (c *Console) keysRotatePost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		c.renderKeys(w, r, http.StatusUnprocessableEntity, page{Fields: map[string]string{
			"confirm": "Tick this box to confirm that you want to add a key term and re-seal every stored secret, then press Rotate again.",
		}})
		return
	}
	if c.Services.Keyring == nil {
		c.Fail(w, r, errNoKeyring)
		return
	}
	p, cl := account.PrincipalFrom(r.Context()), clientOf(r)
	if _, err := c.Services.Keyring.Rotate(r.Context(), audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: cl.IP}); err != nil {
		status, msg := problem(r, err)
		c.renderKeys(w, r, status, page{Error: "The rotation did not start: " + msg})
		return
	}
	http.Redirect(w, r, "/admin/keys?notice=rotated", http.StatusSeeOther)
}
