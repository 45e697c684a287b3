// Package access is the permission matrix of DESIGN §4 as code: the roles a
// user can hold on a project, the actions there are, and one table saying
// which roles may do which action. Every project route names its action
// in the server's route table, and the guard asks Can before the handler
// runs.
package access

import "github.com/sluice-dev/sluice/internal/store"

// Role is a user's effective role on a project: the highest of ownership,
// their direct grant and their groups' grants.
type Role int

// The roles, lowest first.
const (
	None Role = iota
	Standard
	Admin
	Owner
)

func (r Role) String() string {
	switch r {
	case Standard:
		return "standard"
	case Admin:
		return "admin"
	case Owner:
		return "owner"
	}
	return "none"
}

// RoleFromRank turns the store's rank into a Role.
func RoleFromRank(rank int) Role {
	switch rank {
	case store.RankOwner:
		return Owner
	case store.RankAdmin:
		return Admin
	case store.RankStandard:
		return Standard
	}
	return None
}

// Action is something a user does in a project.
type Action string

// The actions of DESIGN §4, one per row of its table.
const (
	// ViewProject: see the project, pipes, flows, connections (no
	// secrets), consumers, runs, failures, console logs.
	ViewProject Action = "project.view"
	// RunFlows: run a flow by hand, dry-run it, reprocess failed records,
	// get a console-log download link.
	RunFlows Action = "flows.run"
	// EditIntegrations: create, change and delete pipes and flows.
	EditIntegrations Action = "integrations.edit"
	// ManageCredentials: create, change and delete connections and
	// service consumers.
	ManageCredentials Action = "credentials.manage"
	// ConfigureProject: settings, plan-bound retention, allowlists,
	// alerts, console-log settings of any pipe; delete run and console
	// logs.
	ConfigureProject Action = "project.configure"
	// ManageAccess: grant and revoke access, switch a member's role
	// (never the owner's).
	ManageAccess Action = "access.manage"
	// ViewAudit: read the project's activity log (owner and
	// administrators, as issue 3 asks).
	ViewAudit Action = "audit.view"
	// OwnProject: delete the project, transfer ownership.
	OwnProject Action = "project.own"
	// ReadSecret: read a stored credential in clear. Nobody may.
	ReadSecret Action = "secret.read"
)

// Matrix is the permission table: the roles allowed to take each action.
// A project the caller has no role on answers 404 whatever the action.
var Matrix = map[Action][]Role{
	ViewProject:       {Owner, Admin, Standard},
	RunFlows:          {Owner, Admin, Standard},
	EditIntegrations:  {Owner, Admin, Standard},
	ManageCredentials: {Owner, Admin},
	ConfigureProject:  {Owner, Admin},
	ManageAccess:      {Owner, Admin},
	ViewAudit:         {Owner, Admin},
	OwnProject:        {Owner},
	ReadSecret:        {},
}

// Can reports whether role may take action. An action missing from the
// matrix is refused, so a typo fails closed.
func Can(role Role, action Action) bool {
	for _, r := range Matrix[action] {
		if r == role && role != None {
			return true
		}
	}
	return false
}
