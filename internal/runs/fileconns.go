package runs

import "github.com/sluice-dev/sluice/internal/connection"

// FileConnections binds the connections of a connections file
// (`sluice run`) exactly as ProjectConnections binds a project's: the
// file's set opens them as the connection service opens stored ones,
// through the same egress guard and drivers.
func FileConnections(fs *connection.FileSet) Binder {
	return ProjectConnections{SQL: fs, HTTP: fs}
}
