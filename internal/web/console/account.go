package console

import "github.com/sluice-dev/sluice/internal/web/httpx"

// accountRoutes are the pages of the user's own account: password, two-factor login, API keys, sessions.
func (c *Console) accountRoutes() []httpx.Route {
	return nil
}
