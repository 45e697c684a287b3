package flow

import (
	"strings"
	"testing"
	"time"
)

func TestDynamicTimeout(t *testing.T) {
	doc := func(dyn string) string {
		return "name: t\ntrigger: {dynamic: " + dyn + "}\nentity_id: .id\nsteps:\n  - respond: '.'\n"
	}
	cases := []struct {
		name, dyn string
		want      time.Duration
		problem   string
	}{
		{name: "default", dyn: "{mode: sync}", want: DefaultDynamicTimeout},
		{name: "set", dyn: "{mode: sync, timeout: 10s}", want: 10 * time.Second},
		{name: "async", dyn: "{mode: async, timeout: 2m}", want: 2 * time.Minute},
		{name: "too long", dyn: "{mode: sync, timeout: 6m}", problem: "trigger.dynamic.timeout: is 6m0s, over the most allowed, 5m0s"},
		{name: "not a duration", dyn: "{mode: sync, timeout: soon}", problem: "trigger.dynamic.timeout"},
		{name: "zero", dyn: "{mode: sync, timeout: 0s}", problem: "must be more than 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load([]byte(doc(tc.dyn)))
			if tc.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problem) {
					t.Fatalf("got %v, want a problem with %q", err, tc.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Timeout != tc.want {
				t.Errorf("timeout %s, want %s", c.Timeout, tc.want)
			}
		})
	}
	c, err := Load([]byte("name: t\nread: {file: {path: a.ndjson, format: ndjson}}\nentity_id: .id\nwrite: {file: {path: b.ndjson, format: ndjson}}\n"))
	if err != nil || c.Timeout != 0 {
		t.Errorf("a batch flow has timeout %v (%v)", c, err)
	}
}
