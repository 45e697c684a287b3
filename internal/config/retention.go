package config

import (
	"fmt"
	"strconv"
	"strings"
)

// PlanDays is one plan's retention from --plan-retention.
type PlanDays struct {
	// Plan is the plan's ID (default, free, standard, enterprise, or
	// one an administrator added).
	Plan           string
	RunLogDays     int
	ConsoleLogDays int
	AuditDays      int
}

// ParsePlanRetention reads --plan-retention: comma-separated
// PLAN=RUN_LOG/CONSOLE_LOG/ACTIVITY_LOG days, such as
// free=7/3/90,standard=30/7/365. Each number is a whole number of days
// from 1 to 36500; a plan may appear once. Whether the plans exist is
// checked against the database at start-up.
func ParsePlanRetention(s string) ([]PlanDays, error) {
	var out []PlanDays
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, days, ok := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		parts := strings.Split(days, "/")
		if !ok || name == "" || len(parts) != 3 {
			return nil, fmt.Errorf("--plan-retention %q: want PLAN=RUN_LOG/CONSOLE_LOG/ACTIVITY_LOG days, such as free=7/3/90", item)
		}
		if seen[name] {
			return nil, fmt.Errorf("--plan-retention: plan %q is given twice", name)
		}
		seen[name] = true
		var n [3]int
		for i, p := range parts {
			v, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || v < 1 || v > 36500 {
				return nil, fmt.Errorf("--plan-retention %q: %q must be a whole number of days from 1 to 36500", item, p)
			}
			n[i] = v
		}
		out = append(out, PlanDays{Plan: name, RunLogDays: n[0], ConsoleLogDays: n[1], AuditDays: n[2]})
	}
	return out, nil
}
