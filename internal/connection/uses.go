package connection

import (
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/internal/flow"
)

// serves lists the connection kinds that can serve each use a flow makes
// of a connection (flow.ConnectionRef.Kind).
var serves = map[string][]string{
	flow.KindSQL:  {"postgres", "mysql"},
	flow.KindHTTP: {"http"},
}

// CheckUses checks the connections a flow names (flow.Flow.Connections)
// against the connections there are: each must exist and be of a kind
// that serves its use (an sql read or write needs postgres or mysql, a
// request needs http). kindOf gives the kind of the connection called
// name, and false when there is none; missing is the message for a name
// that does not exist, saying where it was looked for and how to fix it.
// Each problem's Field is the name's path in the flow document.
func CheckUses(refs []flow.ConnectionRef, kindOf func(name string) (string, bool), missing func(name string) string) []Problem {
	var out []Problem
	for _, r := range refs {
		kind, ok := kindOf(r.Name)
		if !ok {
			out = append(out, Problem{Field: r.Path, Message: missing(r.Name)})
			continue
		}
		want := serves[r.Kind]
		fits := false
		for _, k := range want {
			fits = fits || k == kind
		}
		if fits || len(want) == 0 {
			continue
		}
		use := "an http request"
		if r.Kind == flow.KindSQL {
			use = "an sql read or write"
		}
		need := strings.Join(want, " or ")
		out = append(out, Problem{Field: r.Path, Message: fmt.Sprintf("connection %q is %s %s connection, and %s needs %s %s connection: name one of that kind, or change this part of the flow",
			r.Name, article(kind), kind, use, article(need), need)})
	}
	return out
}

// article is the indefinite article before a kind's name.
func article(kind string) string {
	if strings.HasPrefix(kind, "http") {
		return "an"
	}
	return "a"
}
