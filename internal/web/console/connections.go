package console

import "github.com/sluice-dev/sluice/internal/web/httpx"

// connectionRoutes are the pages of connections and service consumers.
func (c *Console) connectionRoutes() []httpx.Route {
	return nil
}
