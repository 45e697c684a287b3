package console

import "github.com/sluice-dev/sluice/internal/web/httpx"

// accessRoutes are the pages of members, groups, project settings and the activity log.
func (c *Console) accessRoutes() []httpx.Route {
	return nil
}
