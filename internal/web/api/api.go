// Package api is Sluice's JSON API under /api/v1. Handlers are thin: they
// decode, call a feature package and encode; errors go to httpx.WriteError.
package api

import (
	"net/http"
	"time"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/connection"
	"github.com/sluice-dev/sluice/internal/consolelog"
	"github.com/sluice-dev/sluice/internal/consumer"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// API holds what the handlers need.
type API struct {
	Accounts    *account.Service
	Projects    *project.Service
	Connections *connection.Service
	Consumers   *consumer.Service
	// ConsumerAuth verifies the service consumers of dynamic calls.
	ConsumerAuth *consumer.Verifier
	Pipelines    *pipeline.Service
	Runs         *runs.Service
	Scheduler    *runs.Scheduler
	Alerts       *runs.Alerter
	// ConsoleLogs keeps console logs and signs their download links.
	ConsoleLogs *consolelog.Service
	Store       *store.Store
	// Keyring seals stored secrets; instance administrators rotate it.
	Keyring *secrets.Keyring
	// TLS says cookies must be Secure.
	TLS bool
	// BaseURL is the URL users reach Sluice at (OAuth 2.0 redirect URIs).
	BaseURL func() string
	// SessionMax is the cookie lifetime, the session's absolute expiry.
	SessionMax time.Duration

	callLimits callLimits
}

// Routes is the API's part of the server's route table.
func (a *API) Routes() []httpx.Route {
	pub, user, admin := httpx.Public, httpx.User, httpx.Admin
	return []httpx.Route{
		{Method: "POST", Path: "/api/v1/setup", Access: pub, Handler: a.setup},
		// Dynamic calls: a service consumer's credentials, never a user's.
		{Method: "POST", Path: "/call/{project}/{flow}", Access: httpx.Consumer, Handler: a.callFlow},
		{Method: "POST", Path: "/api/v1/auth/login", Access: pub, Handler: a.login},
		{Method: "POST", Path: "/api/v1/auth/logout", Access: user, Handler: a.logout},
		{Method: "GET", Path: "/api/v1/flow-schema.json", Access: pub, Handler: a.flowSchema},
		{Method: "GET", Path: "/api/v1/me", Access: user, Handler: a.me},
		{Method: "POST", Path: "/api/v1/me/password", Access: user, Handler: a.changePassword},
		{Method: "GET", Path: "/api/v1/me/sessions", Access: user, Handler: a.listSessions},
		{Method: "DELETE", Path: "/api/v1/me/sessions", Access: user, Handler: a.revokeOtherSessions},
		{Method: "DELETE", Path: "/api/v1/me/sessions/{id}", Access: user, Handler: a.revokeSession},
		{Method: "GET", Path: "/api/v1/me/api-keys", Access: user, Handler: a.listAPIKeys},
		{Method: "POST", Path: "/api/v1/me/api-keys", Access: user, Handler: a.createAPIKey},
		{Method: "DELETE", Path: "/api/v1/me/api-keys/{id}", Access: user, Handler: a.revokeAPIKey},
		{Method: "POST", Path: "/api/v1/me/totp", Access: user, Handler: a.beginTOTP},
		{Method: "POST", Path: "/api/v1/me/totp/confirm", Access: user, Handler: a.confirmTOTP},
		{Method: "POST", Path: "/api/v1/me/totp/disable", Access: user, Handler: a.disableTOTP},
		{Method: "POST", Path: "/api/v1/me/totp/recovery-codes", Access: user, Handler: a.renewRecoveryCodes},
		{Method: "GET", Path: "/api/v1/users", Access: admin, Handler: a.listUsers},
		{Method: "POST", Path: "/api/v1/users", Access: admin, Handler: a.createUser},
		{Method: "PATCH", Path: "/api/v1/users/{id}", Access: admin, Handler: a.patchUser},
		{Method: "POST", Path: "/api/v1/users/{id}/invitation", Access: admin, Handler: a.newInvitation},
		// An invited colleague's link: the token is the credential.
		{Method: "POST", Path: "/api/v1/invitations/accept", Access: pub, Handler: a.acceptInvitation},
		{Method: "GET", Path: "/api/v1/audit", Access: admin, Handler: a.listAudit},
		{Method: "GET", Path: "/api/v1/audit/verify", Access: admin, Handler: a.verifyAudit},
		{Method: "GET", Path: "/api/v1/keys", Access: admin, Handler: a.keysStatus},
		{Method: "POST", Path: "/api/v1/keys/rotate", Access: admin, Handler: a.rotateKeys},

		{Method: "GET", Path: "/api/v1/plans", Access: user, Handler: a.listPlans},
		{Method: "GET", Path: "/api/v1/groups", Access: user, Handler: a.listGroups},
		{Method: "POST", Path: "/api/v1/groups", Access: admin, Handler: a.createGroup},
		{Method: "GET", Path: "/api/v1/groups/{id}", Access: admin, Handler: a.getGroup},
		{Method: "PATCH", Path: "/api/v1/groups/{id}", Access: admin, Handler: a.patchGroup},
		{Method: "DELETE", Path: "/api/v1/groups/{id}", Access: admin, Handler: a.deleteGroup},
		{Method: "POST", Path: "/api/v1/groups/{id}/members", Access: admin, Handler: a.addGroupMember},
		{Method: "DELETE", Path: "/api/v1/groups/{id}/members/{user}", Access: admin, Handler: a.removeGroupMember},

		{Method: "GET", Path: "/api/v1/projects", Access: user, Handler: a.listProjects},
		{Method: "POST", Path: "/api/v1/projects", Access: user, Handler: a.createProject},
		{Method: "GET", Path: "/api/v1/projects/{p}", Access: user, Action: access.ViewProject, Handler: a.getProject},
		{Method: "PATCH", Path: "/api/v1/projects/{p}", Access: user, Action: access.ConfigureProject, Handler: a.patchProject},
		{Method: "DELETE", Path: "/api/v1/projects/{p}", Access: user, Action: access.OwnProject, Handler: a.deleteProject},
		{Method: "POST", Path: "/api/v1/projects/{p}/transfer", Access: user, Action: access.OwnProject, Handler: a.transferProject},
		{Method: "GET", Path: "/api/v1/projects/{p}/members", Access: user, Action: access.ViewProject, Handler: a.listMembers},
		{Method: "POST", Path: "/api/v1/projects/{p}/members", Access: user, Action: access.ManageAccess, Handler: a.addMember},
		{Method: "PATCH", Path: "/api/v1/projects/{p}/members/{m}", Access: user, Action: access.ManageAccess, Handler: a.patchMember},
		{Method: "DELETE", Path: "/api/v1/projects/{p}/members/{m}", Access: user, Action: access.ManageAccess, Handler: a.deleteMember},
		{Method: "GET", Path: "/api/v1/projects/{p}/audit", Access: user, Action: access.ViewAudit, Handler: a.listProjectAudit},
		// The secret that signs alert webhooks is project configuration;
		// every member may see whether one is set.
		{Method: "GET", Path: "/api/v1/projects/{p}/alerts/webhook-secret", Access: user, Action: access.ViewProject, Handler: a.getWebhookSecret},
		{Method: "POST", Path: "/api/v1/projects/{p}/alerts/webhook-secret", Access: user, Action: access.ConfigureProject, Handler: a.createWebhookSecret},
		{Method: "DELETE", Path: "/api/v1/projects/{p}/alerts/webhook-secret", Access: user, Action: access.ConfigureProject, Handler: a.deleteWebhookSecret},

		{Method: "GET", Path: "/api/v1/projects/{p}/connections", Access: user, Action: access.ViewProject, Handler: a.listConnections},
		{Method: "POST", Path: "/api/v1/projects/{p}/connections", Access: user, Action: access.ManageCredentials, Handler: a.createConnection},
		{Method: "GET", Path: "/api/v1/projects/{p}/connections/{c}", Access: user, Action: access.ViewProject, Handler: a.getConnection},
		{Method: "PATCH", Path: "/api/v1/projects/{p}/connections/{c}", Access: user, Action: access.ManageCredentials, Handler: a.patchConnection},
		{Method: "DELETE", Path: "/api/v1/projects/{p}/connections/{c}", Access: user, Action: access.ManageCredentials, Handler: a.deleteConnection},
		// Testing uses the credentials without showing them, toward the
		// host an administrator configured: any member may.
		{Method: "POST", Path: "/api/v1/projects/{p}/connections/{c}/test", Access: user, Action: access.RunFlows, Handler: a.testConnection},
		{Method: "POST", Path: "/api/v1/projects/{p}/connections/{c}/oauth2/authorize", Access: user, Action: access.ManageCredentials, Handler: a.authorizeConnection},

		// Service consumers: inbound access, managed like credentials.
		{Method: "GET", Path: "/api/v1/projects/{p}/consumers", Access: user, Action: access.ViewProject, Handler: a.listConsumers},
		{Method: "POST", Path: "/api/v1/projects/{p}/consumers", Access: user, Action: access.ManageCredentials, Handler: a.createConsumer},
		{Method: "GET", Path: "/api/v1/projects/{p}/consumers/{c}", Access: user, Action: access.ViewProject, Handler: a.getConsumer},
		{Method: "PATCH", Path: "/api/v1/projects/{p}/consumers/{c}", Access: user, Action: access.ManageCredentials, Handler: a.patchConsumer},
		{Method: "DELETE", Path: "/api/v1/projects/{p}/consumers/{c}", Access: user, Action: access.ManageCredentials, Handler: a.deleteConsumer},
		{Method: "POST", Path: "/api/v1/projects/{p}/consumers/{c}/secret", Access: user, Action: access.ManageCredentials, Handler: a.rotateConsumerSecret},

		// Console logs: every member sees the list and may download (a
		// link made for them alone, for five minutes); deleting is
		// project configuration.
		{Method: "GET", Path: "/api/v1/projects/{p}/console-logs", Access: user, Action: access.ViewProject, Handler: a.listConsoleLogs},
		{Method: "POST", Path: "/api/v1/projects/{p}/console-logs/{l}/link", Access: user, Action: access.RunFlows, Handler: a.consoleLogLink},
		{Method: "DELETE", Path: "/api/v1/projects/{p}/console-logs/{l}", Access: user, Action: access.ConfigureProject, Handler: a.deleteConsoleLog},
		{Method: "DELETE", Path: "/api/v1/projects/{p}/console-logs", Access: user, Action: access.ConfigureProject, Handler: a.deletePipeConsoleLogs},
		{Method: "GET", Path: "/downloads/{token}", Access: pub, Handler: a.download},

		// The callback names no project: the pending consent does, and the
		// handler checks the caller's role on it.
		{Method: "GET", Path: "/api/v1/oauth2/callback", Access: user, Handler: a.oauthCallback},

		// Pipes and flows are the integration work itself: every member
		// builds them. A pipe's console-log settings are project
		// configuration; the service refuses a request that changes them
		// without that role, whole.
		{Method: "GET", Path: "/api/v1/projects/{p}/pipes", Access: user, Action: access.ViewProject, Handler: a.listPipes},
		{Method: "POST", Path: "/api/v1/projects/{p}/pipes", Access: user, Action: access.EditIntegrations, Handler: a.createPipe},
		{Method: "GET", Path: "/api/v1/projects/{p}/pipes/{pipe}", Access: user, Action: access.ViewProject, Handler: a.getPipe},
		{Method: "PATCH", Path: "/api/v1/projects/{p}/pipes/{pipe}", Access: user, Action: access.EditIntegrations, Handler: a.patchPipe},
		{Method: "DELETE", Path: "/api/v1/projects/{p}/pipes/{pipe}", Access: user, Action: access.EditIntegrations, Handler: a.deletePipe},
		{Method: "GET", Path: "/api/v1/projects/{p}/pipes/{pipe}/flows", Access: user, Action: access.ViewProject, Handler: a.listFlows},
		{Method: "POST", Path: "/api/v1/projects/{p}/pipes/{pipe}/flows", Access: user, Action: access.EditIntegrations, Handler: a.createFlow},
		{Method: "GET", Path: "/api/v1/projects/{p}/pipes/{pipe}/flows/{f}", Access: user, Action: access.ViewProject, Handler: a.getFlow},
		{Method: "PUT", Path: "/api/v1/projects/{p}/pipes/{pipe}/flows/{f}", Access: user, Action: access.EditIntegrations, Handler: a.putFlow},
		{Method: "DELETE", Path: "/api/v1/projects/{p}/pipes/{pipe}/flows/{f}", Access: user, Action: access.EditIntegrations, Handler: a.deleteFlow},
		{Method: "POST", Path: "/api/v1/projects/{p}/pipes/{pipe}/enable", Access: user, Action: access.EditIntegrations, Handler: a.enablePipe},
		{Method: "POST", Path: "/api/v1/projects/{p}/pipes/{pipe}/disable", Access: user, Action: access.EditIntegrations, Handler: a.disablePipe},
		{Method: "POST", Path: "/api/v1/projects/{p}/pipes/{pipe}/flows/{f}/enable", Access: user, Action: access.EditIntegrations, Handler: a.enableFlow},
		{Method: "POST", Path: "/api/v1/projects/{p}/pipes/{pipe}/flows/{f}/disable", Access: user, Action: access.EditIntegrations, Handler: a.disableFlow},
		{Method: "GET", Path: "/api/v1/projects/{p}/pipes/{pipe}/flows/{f}/schedule", Access: user, Action: access.ViewProject, Handler: a.getFlowSchedule},
		{Method: "GET", Path: "/api/v1/projects/{p}/pipes/{pipe}/flows/{f}/versions", Access: user, Action: access.ViewProject, Handler: a.listFlowVersions},
		{Method: "GET", Path: "/api/v1/projects/{p}/pipes/{pipe}/flows/{f}/versions/{v}", Access: user, Action: access.ViewProject, Handler: a.getFlowVersion},
		{Method: "POST", Path: "/api/v1/projects/{p}/pipes/{pipe}/flows/{f}/versions/{v}/restore", Access: user, Action: access.EditIntegrations, Handler: a.restoreFlowVersion},
		// Runs: members who may run flows start them, every member reads
		// them, and deleting a run's record is project configuration.
		{Method: "POST", Path: "/api/v1/projects/{p}/pipes/{pipe}/flows/{f}/runs", Access: user, Action: access.RunFlows, Handler: a.startRun},
		// A dry run writes nothing and keeps no run, but may make the
		// flow's calls: running a flow, like a manual run.
		{Method: "POST", Path: "/api/v1/projects/{p}/pipes/{pipe}/flows/{f}/test", Access: user, Action: access.RunFlows, Handler: a.testFlow},
		{Method: "GET", Path: "/api/v1/projects/{p}/runs", Access: user, Action: access.ViewProject, Handler: a.listRuns},
		{Method: "GET", Path: "/api/v1/projects/{p}/runs/{r}", Access: user, Action: access.ViewProject, Handler: a.getRun},
		{Method: "GET", Path: "/api/v1/projects/{p}/runs/{r}/failures", Access: user, Action: access.ViewProject, Handler: a.listRunFailures},
		{Method: "GET", Path: "/api/v1/projects/{p}/runs/{r}/logs", Access: user, Action: access.ViewProject, Handler: a.listRunLogs},
		{Method: "DELETE", Path: "/api/v1/projects/{p}/runs/{r}", Access: user, Action: access.ConfigureProject, Handler: a.deleteRun},
		{Method: "DELETE", Path: "/api/v1/projects/{p}/runs", Access: user, Action: access.ConfigureProject, Handler: a.deleteRunsBefore},
		// Cancelling a run and reprocessing its failures are running flows.
		{Method: "POST", Path: "/api/v1/projects/{p}/runs/{r}/cancel", Access: user, Action: access.RunFlows, Handler: a.cancelRun},
		{Method: "POST", Path: "/api/v1/projects/{p}/runs/{r}/reprocess", Access: user, Action: access.RunFlows, Handler: a.reprocessRun},
	}
}

// principal is the caller; the guard has made sure there is one.
func principal(r *http.Request) *account.Principal {
	return account.PrincipalFrom(r.Context())
}

// client describes the caller for sessions and audit events.
func client(r *http.Request) account.Client {
	return account.ClientOf(httpx.ClientIPFrom(r.Context()), r.UserAgent())
}

// list wraps a list answer as {"<name>": [...]} with a non-null array.
func list[T any](name string, items []T) map[string]any {
	if items == nil {
		items = []T{}
	}
	return map[string]any{name: items}
}
