package flow

// ConnectionRef is a use of a connection by name in a flow.
type ConnectionRef struct {
	// Path is where the name is: "read.connection",
	// "steps[3].switch[0].steps[0].write.connection", "write.connection".
	Path string
	Name string
	// Kind is what the flow uses it for: KindHTTP (a request) or KindSQL.
	Kind string
}

// Connections lists every connection the flow names, in document order,
// so that saving a flow can check each exists in the project and is of a
// kind that can serve it. The flow should be valid.
func (f *Flow) Connections() []ConnectionRef {
	var out []ConnectionRef
	add := func(path, name string, sql bool) {
		if name == "" {
			return
		}
		kind := KindHTTP
		if sql {
			kind = KindSQL
		}
		out = append(out, ConnectionRef{Path: path + ".connection", Name: name, Kind: kind})
	}
	if r := f.Read; r != nil && r.File == nil {
		add("read", r.Connection, r.SQL != nil)
	}
	var steps func(path string, ss []Step)
	write := func(path string, w *Write) {
		if w != nil && w.File == nil {
			add(path, w.Connection, w.SQL != nil)
		}
	}
	steps = func(path string, ss []Step) {
		for i, s := range ss {
			sp := index(path, i)
			if s.Call != nil {
				add(sp+".call", s.Call.Connection, false)
			}
			write(sp+".write", s.Write)
			for j, c := range s.Switch {
				steps(index(sp+".switch", j)+".steps", c.Steps)
			}
		}
	}
	steps("steps", f.Steps)
	write("write", f.Write)
	return out
}
