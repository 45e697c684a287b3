// Package pipeline holds pipes and their flows: creating, reading,
// changing and deleting them, turning flows on and off, and the history
// of every definition a flow was saved with (list, read, restore). Every
// flow definition is checked by the flow format's validator before it is
// saved; every change is written with its audit event in one transaction,
// after the caller's role is read again inside it.
package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/store"
)

// ValidateFunc checks a flow document and returns its canonical JSON
// (an object: what is stored and answered) and its name. raw is the
// "definition" value exactly as the client sent it: a JSON object, or a
// JSON string holding YAML text. Problems are what is wrong with the
// document, each with its path in it (and, for YAML, its line and
// column); err is for failures that are not the document's fault.
//
// The composition root wires it to the flow format (internal/flow).
type ValidateFunc func(raw json.RawMessage) (canonical []byte, name string, problems []Problem, err error)

// Service runs pipe and flow operations.
type Service struct {
	st *store.Store
	// Validate checks every flow definition before it is saved. Without
	// it no flow can be saved (ErrNoValidator).
	Validate ValidateFunc
	// CheckConnections checks the connections a valid definition names
	// against the project's (nil: not checked).
	CheckConnections CheckConnectionsFunc
	// OnFlowChange is told, after the change committed, that flows of a
	// project were saved, switched on or off, or deleted (nil: nobody),
	// so caches of flow rows drop them at once.
	OnFlowChange func(projectID string)
}

// flowsChanged tells OnFlowChange, when err is nil.
func (s *Service) flowsChanged(projectID string, err error) {
	if err == nil && s.OnFlowChange != nil {
		s.OnFlowChange(projectID)
	}
}

// CheckConnectionsFunc checks a valid definition (its canonical JSON)
// against the connections of a project: a problem, at the name's path in
// the document, for each connection it names that the project does not
// have or that is of a kind that cannot serve the use. err is for
// failures that are not the document's fault.
//
// The composition root wires it to the flow format and the store.
type CheckConnectionsFunc func(ctx context.Context, projectID string, canonical []byte) (problems []Problem, err error)

// NewService builds a Service; set Validate before saving flows.
func NewService(st *store.Store) *Service {
	return &Service{st: st}
}

func event(p *account.Principal, c account.Client, projectID, action, target string, detail map[string]any) audit.Event {
	return audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP, ProjectID: projectID,
		Action: action, Target: target, Outcome: audit.Success, Detail: detail}
}

// change is a before/after pair in an audit event's detail.
func change[T any](before, after T) map[string]T {
	return map[string]T{"before": before, "after": after}
}

// recheck re-reads the project and the caller's role inside q's
// transaction, after taking the lock that serialises access changes, and
// checks that the role still allows action: the guard read the role
// before the transaction began, and a request that waited behind a
// demotion or a revoked grant must not act on the role it no longer has.
// No role at all is store.ErrNotFound, as everywhere.
func recheck(ctx context.Context, q *store.Q, projectID string, p *account.Principal, action access.Action) (*store.Project, access.Role, error) {
	if err := q.LockAuditChain(ctx); err != nil {
		return nil, access.None, err
	}
	pr, rank, err := q.ProjectForUser(ctx, projectID, p.User.ID)
	if err != nil {
		return nil, access.None, err
	}
	role := access.RoleFromRank(rank)
	if !access.Can(role, action) {
		return nil, role, project.ErrRoleChanged
	}
	return pr, role, nil
}

const maxNameLen = 100

// checkName checks a pipe's or a flow's name, adding a problem at path.
func checkName(path, name string, ps *problems) string {
	n := strings.TrimSpace(name)
	if n == "" || utf8.RuneCountInString(n) > maxNameLen || !utf8.ValidString(n) || strings.ContainsFunc(n, isControl) {
		ps.add(path, "is required: at most %d characters on one line, such as \"orders: shop → ERP\"", maxNameLen)
		return ""
	}
	return n
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// definition is a flow document that passed validation.
type definition struct {
	canonical string
	name      string
}

// validate runs a definition through Validate and returns its canonical
// form, or a *ValidationError whose paths start with "definition".
func (s *Service) validate(raw json.RawMessage) (*definition, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, &ValidationError{Problems: []Problem{{Path: "definition", Message: "is required: the flow document as a JSON object, or YAML text as a string"}}}
	}
	if raw[0] != '{' && raw[0] != '"' {
		return nil, &ValidationError{Problems: []Problem{{Path: "definition", Message: "must be the flow document as a JSON object, or YAML text as a string"}}}
	}
	if s.Validate == nil {
		return nil, ErrNoValidator
	}
	canonical, name, found, err := s.Validate(raw)
	if err != nil {
		return nil, fmt.Errorf("pipeline: validate flow definition: %w", err)
	}
	if len(found) > 0 {
		ps := make([]Problem, len(found))
		for i, p := range found {
			p.Path = definitionPath(p.Path)
			ps[i] = p
		}
		return nil, &ValidationError{Problems: ps}
	}
	var ps problems
	name = checkName("definition.name", name, &ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	canonical = bytes.TrimSpace(canonical)
	if len(canonical) == 0 || canonical[0] != '{' || !json.Valid(canonical) {
		return nil, fmt.Errorf("pipeline: the flow validator returned no canonical JSON object for a valid document")
	}
	return &definition{canonical: string(canonical), name: name}, nil
}

// validateFor is validate, then the check of the connections the
// definition names against those of the project.
func (s *Service) validateFor(ctx context.Context, projectID string, raw json.RawMessage) (*definition, error) {
	def, err := s.validate(raw)
	if err != nil {
		return nil, err
	}
	if err := s.checkConnections(ctx, projectID, def); err != nil {
		return nil, err
	}
	return def, nil
}

// checkConnections runs CheckConnections on a valid definition; its
// problems come back under "definition" as a *ValidationError.
func (s *Service) checkConnections(ctx context.Context, projectID string, def *definition) error {
	if s.CheckConnections == nil {
		return nil
	}
	found, err := s.CheckConnections(ctx, projectID, []byte(def.canonical))
	if err != nil {
		return fmt.Errorf("pipeline: check the connections of a flow definition: %w", err)
	}
	if len(found) == 0 {
		return nil
	}
	ps := make([]Problem, len(found))
	for i, p := range found {
		p.Path = definitionPath(p.Path)
		ps[i] = p
	}
	return &ValidationError{Problems: ps}
}

// definitionPath places a path of the flow document under the request's
// "definition" field: "read.connection" → "definition.read.connection",
// "steps[1]" → "definition.steps[1]", "/read/connection" (a JSON
// pointer) → "definition/read/connection".
func definitionPath(p string) string {
	p = strings.TrimPrefix(p, "$")
	switch {
	case p == "" || p == ".":
		return "definition"
	case strings.HasPrefix(p, "[") || strings.HasPrefix(p, "/") || strings.HasPrefix(p, "."):
		return "definition" + p
	}
	return "definition." + p
}
