package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/store"
)

// ListVersions lists every saved version of a flow, newest first; a flow
// that is not under the project and pipe is store.ErrNotFound.
func (s *Service) ListVersions(ctx context.Context, projectID, pipeID, flowID string) ([]*store.FlowVersion, error) {
	q := s.st.Reader()
	if _, err := q.FlowByID(ctx, projectID, pipeID, flowID); err != nil {
		return nil, err
	}
	return q.ListFlowVersions(ctx, projectID, pipeID, flowID)
}

// GetVersion loads one saved version of a flow.
func (s *Service) GetVersion(ctx context.Context, projectID, pipeID, flowID string, version int) (*store.FlowVersion, error) {
	return s.st.Reader().FlowVersionByNumber(ctx, projectID, pipeID, flowID, version)
}

// RestoreVersion makes an earlier version's definition the flow's current
// one by saving it again as a new version: history is only ever added
// to. The old definition is validated again, since the flow format may
// have moved on since it was saved.
// Restoring the definition the flow already has changes nothing.
func (s *Service) RestoreVersion(ctx context.Context, p *account.Principal, g *access.Grant, pipeID, flowID string, version int, c account.Client) (*store.Flow, error) {
	v, err := s.st.Reader().FlowVersionByNumber(ctx, g.Project.ID, pipeID, flowID, version)
	if err != nil {
		return nil, err
	}
	def, err := s.validate(json.RawMessage(v.Definition))
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			for i := range ve.Problems {
				ve.Problems[i].Message = fmt.Sprintf("%s (in version %d, which the flow format no longer accepts: save a corrected definition instead)", ve.Problems[i].Message, version)
			}
		}
		return nil, err
	}
	// Checked apart: a connection deleted since is not the format's doing.
	if err := s.checkConnections(ctx, g.Project.ID, def); err != nil {
		return nil, err
	}
	return s.saveVersion(ctx, p, g, pipeID, flowID, def, version, c)
}
