package config

import (
	"slices"
	"strings"
	"testing"
)

// TestPlanRetention: --plan-retention and SLUICE_PLAN_RETENTION give
// plans' days; a malformed value is refused naming the flag.
func TestPlanRetention(t *testing.T) {
	all := DB | Server | Worker | Logging
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		want    []PlanDays
		wantErr string
	}{
		{name: "none", want: nil},
		{name: "flag", args: []string{"--plan-retention", "free=7/3/90, standard=30/7/365"},
			want: []PlanDays{{"free", 7, 3, 90}, {"standard", 30, 7, 365}}},
		{name: "environment", env: map[string]string{"SLUICE_PLAN_RETENTION": "enterprise=120/60/1000"},
			want: []PlanDays{{"enterprise", 120, 60, 1000}}},
		{name: "flag wins", args: []string{"--plan-retention", "free=1/1/1"}, env: map[string]string{"SLUICE_PLAN_RETENTION": "free=2/2/2"},
			want: []PlanDays{{"free", 1, 1, 1}}},
		{name: "two numbers", args: []string{"--plan-retention", "free=7/3"}, wantErr: `--plan-retention "free=7/3": want PLAN=RUN_LOG/CONSOLE_LOG/ACTIVITY_LOG`},
		{name: "no name", args: []string{"--plan-retention", "=7/3/90"}, wantErr: "--plan-retention"},
		{name: "zero days", args: []string{"--plan-retention", "free=0/3/90"}, wantErr: "from 1 to 36500"},
		{name: "not a number", args: []string{"--plan-retention", "free=7/x/90"}, wantErr: `"x" must be a whole number`},
		{name: "twice", args: []string{"--plan-retention", "free=7/3/90,free=8/3/90"}, wantErr: `plan "free" is given twice`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := Parse("serve", all, tc.args, func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.PlanDays, tc.want) {
				t.Fatalf("PlanDays = %v, want %v", c.PlanDays, tc.want)
			}
		})
	}
}
