package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/sergi/go-diff/diffmatchpatch"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/store"
)

// diffLine is one line of a version's diff against the current one.
type diffLine struct {
	// Op is "add" (in the current version only), "del" (in this version
	// only) or "same".
	Op, Text string
}

// versionData is what a version's page shows.
type versionData struct {
	URL, FlowName       string
	Version             *store.FlowVersion
	Current             int
	Text                string
	Diff                []diffLine
	Changed, CanRestore bool
}

// lineDiff is the line-by-line difference from old to cur.
func lineDiff(old, cur string) []diffLine {
	dmp := diffmatchpatch.New()
	a, b, lines := dmp.DiffLinesToChars(old, cur)
	diffs := dmp.DiffCharsToLines(dmp.DiffMain(a, b, false), lines)
	var out []diffLine
	for _, d := range diffs {
		op := map[diffmatchpatch.Operation]string{diffmatchpatch.DiffInsert: "add", diffmatchpatch.DiffDelete: "del", diffmatchpatch.DiffEqual: "same"}[d.Type]
		for _, l := range strings.SplitAfter(d.Text, "\n") {
			if l != "" {
				out = append(out, diffLine{Op: op, Text: strings.TrimSuffix(l, "\n")})
			}
		}
	}
	return out
}

// versionPage shows a saved version of a flow as YAML and how the current
// version differs from it, with a restore button.
func (c *Console) versionPage(w http.ResponseWriter, r *http.Request) {
	g := access.GrantFrom(r.Context())
	pipeID, id := r.PathValue("pipe"), r.PathValue("f")
	n, ok := versionParam(r)
	if !ok {
		c.Fail(w, r, store.ErrNotFound)
		return
	}
	f, err := c.Services.Pipelines.GetFlow(r.Context(), g.Project.ID, pipeID, id)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	v, err := c.Services.Pipelines.GetVersion(r.Context(), g.Project.ID, pipeID, id, n)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	old, cur := yamlOf(v.Definition), yamlOf(f.Definition)
	d := versionData{URL: flowURL(g.Project.ID, pipeID, id), FlowName: f.Name, Version: v, Current: f.Version, Text: old,
		Diff: lineDiff(old, cur), Changed: old != cur, CanRestore: g.Allows(access.EditIntegrations) && n != f.Version}
	c.render(w, r, http.StatusOK, "flow-version.html", page{Title: "Version " + strconv.Itoa(n) + " · " + f.Name, Data: d})
}

// versionRestore saves a version again as the flow's newest.
func (c *Console) versionRestore(w http.ResponseWriter, r *http.Request) {
	g := access.GrantFrom(r.Context())
	pipeID, id := r.PathValue("pipe"), r.PathValue("f")
	n, ok := versionParam(r)
	if !ok {
		c.Fail(w, r, store.ErrNotFound)
		return
	}
	if _, err := c.Services.Pipelines.RestoreVersion(r.Context(), principalOf(r), g, pipeID, id, n, clientOf(r)); err != nil {
		c.Fail(w, r, err)
		return
	}
	http.Redirect(w, r, flowURL(g.Project.ID, pipeID, id)+"?notice=saved", http.StatusSeeOther)
}

// versionParam is the {v} of a version's path: a version number, 1 or
// more (anything else is no version: 404).
func versionParam(r *http.Request) (int, bool) {
	n, err := strconv.Atoi(r.PathValue("v"))
	return n, err == nil && n >= 1
}
