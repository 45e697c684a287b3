package pipeline

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/store"
)

// Pipe is a pipe with its console-log settings decoded.
type Pipe struct {
	Row        *store.Pipe
	ConsoleLog ConsoleLog
}

// PipeInput is a create or a change; nil fields are absent (for a change:
// kept; for a create: the project's console-log defaults, no
// description).
type PipeInput struct {
	Name        *string
	Description *string
	ConsoleLog  *ConsoleLogPatch
}

const maxDescriptionLen = 2000

func checkDescription(d string, ps *problems) string {
	d = strings.TrimSpace(d)
	bad := strings.ContainsFunc(d, func(r rune) bool { return isControl(r) && r != '\n' && r != '\t' })
	if utf8.RuneCountInString(d) > maxDescriptionLen || !utf8.ValidString(d) || bad {
		ps.add("description", "must be at most %d characters of text", maxDescriptionLen)
	}
	return d
}

func viewPipe(row *store.Pipe, now time.Time) (*Pipe, error) {
	cl, err := parseConsoleLog(row.ConsoleLog)
	if err != nil {
		return nil, err
	}
	return &Pipe{Row: row, ConsoleLog: cl.effective(now)}, nil
}

// consoleLogChange decides the console-log part of a create or change:
// next is before with the patch applied. Changing it is project
// configuration: a role that may not configure the project is refused
// for the whole request, even when the rest of it is allowed. Sending the
// settings unchanged is no change.
func consoleLogChange(before ConsoleLog, patch *ConsoleLogPatch, role access.Role, ps *problems) (next ConsoleLog, changed bool, err error) {
	next = before.apply(patch)
	if next.encode() == before.encode() {
		return next, false, nil
	}
	if !access.Can(role, access.ConfigureProject) {
		return next, true, ErrConsoleLogForbidden
	}
	next.validate(ps)
	return next, true, nil
}

// CreatePipe adds a pipe to the project of g. Its console log starts from
// the project's defaults; setting it otherwise needs a role that may
// configure the project.
func (s *Service) CreatePipe(ctx context.Context, p *account.Principal, g *access.Grant, in PipeInput, c account.Client) (*Pipe, error) {
	var out *Pipe
	err := s.st.InTx(ctx, func(q *store.Q) error {
		pr, role, err := recheck(ctx, q, g.Project.ID, p, access.EditIntegrations)
		if err != nil {
			return err
		}
		defaults, err := consoleLogDefaults(pr.Settings)
		if err != nil {
			return err
		}
		var ps problems
		cl, _, err := consoleLogChange(defaults, in.ConsoleLog, role, &ps)
		if err != nil {
			return err
		}
		cl = cl.timed(ConsoleLog{}, s.st.Now())
		name := ""
		if in.Name == nil {
			ps.add("name", "is required: at most %d characters on one line, such as \"Shop ↔ ERP\"", maxNameLen)
		} else {
			name = checkName("name", *in.Name, &ps)
		}
		desc := ""
		if in.Description != nil {
			desc = checkDescription(*in.Description, &ps)
		}
		if err := ps.err(); err != nil {
			return err
		}
		row := &store.Pipe{ProjectID: pr.ID, Name: name, Description: desc, ConsoleLog: cl.encode()}
		if err := q.CreatePipe(ctx, row); err != nil {
			return err
		}
		if _, err := audit.Append(ctx, q, event(p, c, pr.ID, audit.ActionPipeCreate, "pipe:"+row.ID,
			map[string]any{"name": name, "console_log": cl})); err != nil {
			return err
		}
		out = &Pipe{Row: row, ConsoleLog: cl}
		return nil
	})
	return out, err
}

// SetPipeEnabled resumes (true) or pauses (false) a pipe: a paused
// pipe's flows fire on no schedule and answer no dynamic call. Setting
// what is already set changes and records nothing.
func (s *Service) SetPipeEnabled(ctx context.Context, p *account.Principal, g *access.Grant, id string, enabled bool, c account.Client) (*Pipe, error) {
	var out *Pipe
	err := s.st.InTx(ctx, func(q *store.Q) error {
		if _, _, err := recheck(ctx, q, g.Project.ID, p, access.EditIntegrations); err != nil {
			return err
		}
		row, err := q.PipeByID(ctx, g.Project.ID, id)
		if err != nil {
			return err
		}
		cl, err := parseConsoleLog(row.ConsoleLog)
		if err != nil {
			return err
		}
		out = &Pipe{Row: row, ConsoleLog: cl}
		if row.Paused == !enabled {
			return nil
		}
		row.Paused = !enabled
		if err := q.SetPipePaused(ctx, row); err != nil {
			return err
		}
		action := audit.ActionPipeDisable
		if enabled {
			action = audit.ActionPipeEnable
		}
		_, err = audit.Append(ctx, q, event(p, c, g.Project.ID, action, "pipe:"+id,
			map[string]any{"name": row.Name, "enabled": change(!enabled, enabled)}))
		return err
	})
	return out, err
}

// ListPipes lists a project's pipes.
func (s *Service) ListPipes(ctx context.Context, projectID string) ([]*Pipe, error) {
	rows, err := s.st.Reader().ListPipes(ctx, projectID)
	if err != nil {
		return nil, err
	}
	out := make([]*Pipe, 0, len(rows))
	for _, r := range rows {
		v, err := viewPipe(r, s.st.Now())
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// GetPipe loads one pipe of a project.
func (s *Service) GetPipe(ctx context.Context, projectID, id string) (*Pipe, error) {
	row, err := s.st.Reader().PipeByID(ctx, projectID, id)
	if err != nil {
		return nil, err
	}
	return viewPipe(row, s.st.Now())
}

// UpdatePipe renames a pipe, changes its description or its console-log
// settings, all or nothing. A change of the console-log settings by a
// role that may not configure the project refuses the whole request.
func (s *Service) UpdatePipe(ctx context.Context, p *account.Principal, g *access.Grant, id string, in PipeInput, c account.Client) (*Pipe, error) {
	if in.Name == nil && in.Description == nil && in.ConsoleLog == nil {
		return nil, &ValidationError{Problems: []Problem{{Path: "", Message: "nothing to change: send name, description or console_log"}}}
	}
	var out *Pipe
	err := s.st.InTx(ctx, func(q *store.Q) error {
		_, role, err := recheck(ctx, q, g.Project.ID, p, access.EditIntegrations)
		if err != nil {
			return err
		}
		row, err := q.PipeByID(ctx, g.Project.ID, id)
		if err != nil {
			return err
		}
		before, err := parseConsoleLog(row.ConsoleLog)
		if err != nil {
			return err
		}
		now := s.st.Now()
		before = before.effective(now)
		var ps problems
		cl, clChanged, err := consoleLogChange(before, in.ConsoleLog, role, &ps)
		if err != nil {
			return err
		}
		if clChanged {
			cl = cl.timed(before, now)
		}
		next := *row
		detail := map[string]any{}
		if in.Name != nil {
			if n := checkName("name", *in.Name, &ps); n != "" && n != row.Name {
				detail["name"] = change(row.Name, n)
				next.Name = n
			}
		}
		if in.Description != nil {
			if d := checkDescription(*in.Description, &ps); d != row.Description {
				detail["description"] = change(row.Description, d)
				next.Description = d
			}
		}
		if err := ps.err(); err != nil {
			return err
		}
		if clChanged {
			detail["console_log"] = change(before, cl)
			next.ConsoleLog = cl.encode()
		}
		if len(detail) > 0 {
			if err := q.UpdatePipe(ctx, &next); err != nil {
				return err
			}
			detail["name_now"] = next.Name
			if _, err := audit.Append(ctx, q, event(p, c, g.Project.ID, audit.ActionPipeUpdate, "pipe:"+row.ID, detail)); err != nil {
				return err
			}
		}
		out = &Pipe{Row: &next, ConsoleLog: cl}
		return nil
	})
	// Capture follows the change at once on this node.
	s.flowsChanged(g.Project.ID, err)
	return out, err
}

// DeletePipe removes a pipe with its flows and their versions.
func (s *Service) DeletePipe(ctx context.Context, p *account.Principal, g *access.Grant, id string, c account.Client) error {
	err := s.st.InTx(ctx, func(q *store.Q) error {
		if _, _, err := recheck(ctx, q, g.Project.ID, p, access.EditIntegrations); err != nil {
			return err
		}
		row, err := q.PipeByID(ctx, g.Project.ID, id)
		if err != nil {
			return err
		}
		n, err := q.CountFlows(ctx, g.Project.ID, id)
		if err != nil {
			return err
		}
		if err := q.DeletePipe(ctx, g.Project.ID, id); err != nil {
			return err
		}
		_, err = audit.Append(ctx, q, event(p, c, g.Project.ID, audit.ActionPipeDelete, "pipe:"+row.ID,
			map[string]any{"name": row.Name, "flows_deleted": n}))
		return err
	})
	s.flowsChanged(g.Project.ID, err)
	return err
}
