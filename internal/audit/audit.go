// Package audit writes and checks the activity log: an append-only table in
// which every event carries the SHA-256 of its predecessor, so an event
// edited, inserted or removed in the middle breaks the chain at that point.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
)

// Outcomes of an audited action.
const (
	Success = "success"
	Failure = "failure"
)

// Actions recorded by the account features. Later features add their own.
const (
	ActionSetup           = "instance.setup"
	ActionLogin           = "auth.login"
	ActionLogout          = "auth.logout"
	ActionPasswordChange  = "user.password_change"
	ActionUserCreate      = "user.create"
	ActionUserDisable     = "user.disable"
	ActionUserEnable      = "user.enable"
	ActionAPIKeyCreate    = "api_key.create"
	ActionAPIKeyRevoke    = "api_key.revoke"
	ActionTOTPEnable      = "totp.enable"
	ActionTOTPDisable     = "totp.disable"
	ActionRecoveryRenew   = "totp.recovery_codes_renew"
	ActionSessionRevoke   = "session.revoke"
	ActionRecoveryCodeUse = "totp.recovery_code_use"
)

// An invitation link made (or made again), and its acceptance. The token
// of the link is never part of the event.
const (
	ActionUserInvite       = "user.invite"
	ActionUserInviteAccept = "user.invite_accept"
)

// Event is what a caller records; Append fills in the ID, time and hashes.
// Detail must never hold a secret: it is shown to project members.
type Event struct {
	ActorID    string
	ActorEmail string
	IP         string
	ProjectID  string
	Action     string
	Target     string
	Outcome    string
	Detail     map[string]any
}

// Append writes e as the newest event of the chain, inside q's transaction
// so the event commits or rolls back with the change it records.
func Append(ctx context.Context, q *store.Q, e Event) (*store.AuditEvent, error) {
	if e.Action == "" || e.Outcome == "" {
		return nil, fmt.Errorf("audit: event needs an action and an outcome")
	}
	detail := "{}"
	if len(e.Detail) > 0 {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return nil, fmt.Errorf("audit: encode detail of %s: %w", e.Action, err)
		}
		detail = string(b)
	}
	if err := q.LockAuditChain(ctx); err != nil {
		return nil, err
	}
	prev, err := q.LastAuditHash(ctx)
	if err != nil {
		return nil, err
	}
	row := &store.AuditEvent{
		ID: store.NewID(), At: q.Now(), ActorID: e.ActorID, ActorEmail: e.ActorEmail, IP: e.IP,
		ProjectID: e.ProjectID, Action: e.Action, Target: e.Target, Outcome: e.Outcome, Detail: detail, PrevHash: prev,
	}
	row.Hash = Hash(row)
	if err := q.InsertAuditEvent(ctx, row); err != nil {
		return nil, err
	}
	return row, nil
}

// Hash is the chain hash of an event: SHA-256 over a canonical JSON array of
// every field except Seq (assigned by the database) and Hash itself.
func Hash(e *store.AuditEvent) string {
	canon, _ := json.Marshal([]string{
		"sluice-audit-v1", e.ID, e.At.UTC().Format(time.RFC3339Nano), e.ActorID, e.ActorEmail, e.IP,
		e.ProjectID, e.Action, e.Target, e.Outcome, e.Detail, e.PrevHash,
	})
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:])
}

// Report is the result of Verify.
type Report struct {
	Intact bool `json:"intact"`
	Events int  `json:"events"`
	// BrokenAt is the sequence number of the first event that does not
	// match, when Intact is false.
	BrokenAt int64  `json:"broken_at,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Verify walks the whole log in order and reports the first broken link.
// The first event must point at nothing, or at the last event retention
// removed (the audit anchor retention keeps); from there on every event
// must name the hash of the one before it.
func Verify(ctx context.Context, q *store.Q) (Report, error) {
	var r Report
	// The first event follows the anchor retention left when it deleted
	// the start of the log, or nothing: an event taken from the start
	// otherwise shows.
	anchor := ""
	a, err := q.GetAuditAnchor(ctx)
	switch {
	case err == nil:
		anchor = a.ThroughHash
	case !errors.Is(err, store.ErrNotFound):
		return r, err
	}
	prev := ""
	first := true
	errStop := fmt.Errorf("stop")
	err = q.EachAuditEvent(ctx, func(e *store.AuditEvent) error {
		r.Events++
		if first && e.PrevHash != anchor {
			r.BrokenAt, r.Reason = e.Seq, fmt.Sprintf("event %d is not the start of the log nor follows the last event retention deleted: events before it were removed", e.Seq)
			return errStop
		}
		if !first && e.PrevHash != prev {
			r.BrokenAt, r.Reason = e.Seq, fmt.Sprintf("event %d does not follow event before it: a preceding event was changed, removed or inserted", e.Seq)
			return errStop
		}
		if got := Hash(e); got != e.Hash {
			r.BrokenAt, r.Reason = e.Seq, fmt.Sprintf("event %d was changed after it was written: its content does not match its hash", e.Seq)
			return errStop
		}
		prev, first = e.Hash, false
		return nil
	})
	if err != nil && err != errStop {
		return r, err
	}
	r.Intact = r.BrokenAt == 0
	return r, nil
}

// Actions recorded by projects, their access and groups.
const (
	ActionProjectCreate   = "project.create"
	ActionProjectUpdate   = "project.update"
	ActionProjectTransfer = "project.transfer"
	ActionProjectDelete   = "project.delete"
	ActionGrantAdd        = "member.grant"
	ActionGrantRole       = "member.role_change"
	ActionGrantRevoke     = "member.revoke"
	ActionGroupCreate     = "group.create"
	ActionGroupRename     = "group.rename"
	ActionGroupDelete     = "group.delete"
	ActionGroupMemberAdd  = "group.member_add"
	ActionGroupMemberDrop = "group.member_remove"
)

// Actions recorded by connections. Their details never hold a secret.
const (
	ActionConnectionCreate  = "connection.create"
	ActionConnectionUpdate  = "connection.update"
	ActionConnectionDelete  = "connection.delete"
	ActionConnectionConsent = "connection.oauth2_consent"
)

// Actions recorded by pipes and flows.
const (
	ActionPipeCreate  = "pipe.create"
	ActionPipeUpdate  = "pipe.update"
	ActionPipeDelete  = "pipe.delete"
	ActionPipeEnable  = "pipe.enable"
	ActionPipeDisable = "pipe.disable"
	ActionFlowCreate  = "flow.create"
	ActionFlowSave    = "flow.save"
	ActionFlowRestore = "flow.restore"
	ActionFlowEnable  = "flow.enable"
	ActionFlowDisable = "flow.disable"
	ActionFlowDelete  = "flow.delete"
)

// Actions recorded by runs.
const (
	ActionRunStart     = "run.start"
	ActionRunDelete    = "run.delete"
	ActionRunCancel    = "run.cancel"
	ActionRunReprocess = "run.reprocess"
)
