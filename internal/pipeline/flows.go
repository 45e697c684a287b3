package pipeline

import (
	"context"
	"encoding/json"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/store"
)

// FlowInput is a new flow: its definition (a JSON object, or YAML text as
// a JSON string) and whether it starts enabled (default: off).
type FlowInput struct {
	Definition json.RawMessage
	Enabled    *bool
}

// flowTarget is how audit events name a flow.
func flowTarget(id string) string { return "flow:" + id }

// CreateFlow validates a definition and adds it to a pipe of g's project
// as version 1 of a new flow, whose name is the definition's.
func (s *Service) CreateFlow(ctx context.Context, p *account.Principal, g *access.Grant, pipeID string, in FlowInput, c account.Client) (*store.Flow, error) {
	// The pipe first, so a wrong path is 404 whatever the body; the
	// validator (which may compile jq) runs outside the transaction.
	if _, err := s.st.Reader().PipeByID(ctx, g.Project.ID, pipeID); err != nil {
		return nil, err
	}
	def, err := s.validateFor(ctx, g.Project.ID, in.Definition)
	if err != nil {
		return nil, err
	}
	f := &store.Flow{PipeID: pipeID, ProjectID: g.Project.ID, Name: def.name, Definition: def.canonical,
		Enabled: in.Enabled != nil && *in.Enabled, CreatedBy: p.User.ID}
	err = s.st.InTx(ctx, func(q *store.Q) error {
		if _, _, err := recheck(ctx, q, g.Project.ID, p, access.EditIntegrations); err != nil {
			return err
		}
		if err := q.CreateFlow(ctx, f); err != nil {
			return err
		}
		_, err := audit.Append(ctx, q, event(p, c, g.Project.ID, audit.ActionFlowCreate, flowTarget(f.ID),
			map[string]any{"name": f.Name, "pipe_id": pipeID, "version": f.Version, "enabled": f.Enabled}))
		return err
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// ListFlows lists the flows of a pipe of a project; a pipe that is not
// the project's is store.ErrNotFound.
func (s *Service) ListFlows(ctx context.Context, projectID, pipeID string) ([]*store.Flow, error) {
	q := s.st.Reader()
	if _, err := q.PipeByID(ctx, projectID, pipeID); err != nil {
		return nil, err
	}
	return q.ListFlows(ctx, projectID, pipeID)
}

// GetFlow loads one flow of a pipe of a project.
func (s *Service) GetFlow(ctx context.Context, projectID, pipeID, id string) (*store.Flow, error) {
	return s.st.Reader().FlowByID(ctx, projectID, pipeID, id)
}

// SaveFlow validates a definition and makes it the flow's next version;
// the previous one stays in the history. A definition equal to the
// current one (once canonical) saves nothing and records nothing.
func (s *Service) SaveFlow(ctx context.Context, p *account.Principal, g *access.Grant, pipeID, id string, raw json.RawMessage, c account.Client) (*store.Flow, error) {
	if _, err := s.st.Reader().FlowByID(ctx, g.Project.ID, pipeID, id); err != nil {
		return nil, err
	}
	def, err := s.validateFor(ctx, g.Project.ID, raw)
	if err != nil {
		return nil, err
	}
	return s.saveVersion(ctx, p, g, pipeID, id, def, 0, c)
}

// saveVersion writes def as the flow's next version, recording a save, or
// a restore of version restoredFrom.
func (s *Service) saveVersion(ctx context.Context, p *account.Principal, g *access.Grant, pipeID, id string, def *definition, restoredFrom int, c account.Client) (*store.Flow, error) {
	var out *store.Flow
	err := s.st.InTx(ctx, func(q *store.Q) error {
		if _, _, err := recheck(ctx, q, g.Project.ID, p, access.EditIntegrations); err != nil {
			return err
		}
		cur, err := q.FlowByID(ctx, g.Project.ID, pipeID, id)
		if err != nil {
			return err
		}
		if cur.Definition == def.canonical {
			out = cur
			return nil
		}
		next := *cur
		next.Name, next.Definition = def.name, def.canonical
		if err := q.SaveFlowDefinition(ctx, &next, p.User.ID, restoredFrom); err != nil {
			return err
		}
		action := audit.ActionFlowSave
		detail := map[string]any{"pipe_id": pipeID, "version": change(cur.Version, next.Version), "name_now": next.Name}
		if restoredFrom > 0 {
			action = audit.ActionFlowRestore
			detail["restored_from"] = restoredFrom
		}
		if next.Name != cur.Name {
			detail["name"] = change(cur.Name, next.Name)
		}
		if _, err := audit.Append(ctx, q, event(p, c, g.Project.ID, action, flowTarget(id), detail)); err != nil {
			return err
		}
		out = &next
		return nil
	})
	s.flowsChanged(g.Project.ID, err)
	return out, err
}

// SetFlowEnabled turns a flow on or off. It changes no version; turning
// on a flow that is on changes and records nothing.
func (s *Service) SetFlowEnabled(ctx context.Context, p *account.Principal, g *access.Grant, pipeID, id string, enabled bool, c account.Client) (*store.Flow, error) {
	var out *store.Flow
	err := s.st.InTx(ctx, func(q *store.Q) error {
		if _, _, err := recheck(ctx, q, g.Project.ID, p, access.EditIntegrations); err != nil {
			return err
		}
		f, err := q.FlowByID(ctx, g.Project.ID, pipeID, id)
		if err != nil {
			return err
		}
		out = f
		if f.Enabled == enabled {
			return nil
		}
		f.Enabled = enabled
		if err := q.SetFlowEnabled(ctx, f); err != nil {
			return err
		}
		action := audit.ActionFlowDisable
		if enabled {
			action = audit.ActionFlowEnable
		}
		_, err = audit.Append(ctx, q, event(p, c, g.Project.ID, action, flowTarget(id),
			map[string]any{"name": f.Name, "pipe_id": pipeID, "version": f.Version, "enabled": change(!enabled, enabled)}))
		return err
	})
	s.flowsChanged(g.Project.ID, err)
	return out, err
}

// DeleteFlow removes a flow and every version of it.
func (s *Service) DeleteFlow(ctx context.Context, p *account.Principal, g *access.Grant, pipeID, id string, c account.Client) error {
	err := s.st.InTx(ctx, func(q *store.Q) error {
		if _, _, err := recheck(ctx, q, g.Project.ID, p, access.EditIntegrations); err != nil {
			return err
		}
		f, err := q.FlowByID(ctx, g.Project.ID, pipeID, id)
		if err != nil {
			return err
		}
		if err := q.DeleteFlow(ctx, g.Project.ID, pipeID, id); err != nil {
			return err
		}
		_, err = audit.Append(ctx, q, event(p, c, g.Project.ID, audit.ActionFlowDelete, flowTarget(id),
			map[string]any{"name": f.Name, "pipe_id": pipeID, "version": f.Version, "enabled": f.Enabled}))
		return err
	})
	s.flowsChanged(g.Project.ID, err)
	return err
}
