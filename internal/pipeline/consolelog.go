package pipeline

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/project"
)

// ConsoleLog is what a pipe's console log captures while it is on
// (DESIGN §1.7): the kinds of data, the JSON paths to redact, and after
// how many hours it switches itself off.
type ConsoleLog struct {
	Enabled bool `json:"enabled"`
	// Capture ⊆ project.CaptureKinds.
	Capture []string `json:"capture"`
	// Sensitive are JSON paths whose values are redacted in what is
	// captured ("customer.email", "$.items[*].card").
	Sensitive    []string `json:"sensitive"`
	AutoOffHours int      `json:"auto_off_hours"`
	// Until is when capture switches itself off (set when it is turned
	// on, or its auto_off_hours change while on); past it the settings
	// read as off.
	Until *time.Time `json:"until,omitempty"`
}

// effective is c as it stands at now: on settings past their Until read
// as off.
func (c ConsoleLog) effective(now time.Time) ConsoleLog {
	if c.Enabled && c.Until != nil && !now.Before(*c.Until) {
		c.Enabled, c.Until = false, nil
	}
	if !c.Enabled {
		c.Until = nil
	}
	return c
}

// timed sets when c, changed from before, switches itself off: from now
// when it is turned on or its hours change, unchanged otherwise; off
// settings have none.
func (c ConsoleLog) timed(before ConsoleLog, now time.Time) ConsoleLog {
	switch {
	case !c.Enabled:
		c.Until = nil
	case !before.Enabled || before.Until == nil || c.AutoOffHours != before.AutoOffHours:
		u := now.Add(time.Duration(c.AutoOffHours) * time.Hour).UTC().Truncate(time.Second)
		c.Until = &u
	default:
		c.Until = before.Until
	}
	return c
}

// ConsoleLogPatch is a change to some console-log settings: absent fields
// keep their value, present ones are replaced.
type ConsoleLogPatch struct {
	Enabled      *bool     `json:"enabled"`
	Capture      *[]string `json:"capture"`
	Sensitive    *[]string `json:"sensitive"`
	AutoOffHours *int      `json:"auto_off_hours"`
	// Until is read-only: Sluice sets it. It is accepted and ignored, so
	// settings can be sent back as they were read.
	Until json.RawMessage `json:"until"`
}

// consoleLogDefaults are a new pipe's settings: the project's defaults.
func consoleLogDefaults(settings string) (ConsoleLog, error) {
	s, err := project.ParseSettings(settings)
	if err != nil {
		return ConsoleLog{}, err
	}
	d := s.ConsoleLogDefaults
	return ConsoleLog{Enabled: d.Enabled, Capture: slices.Clone(d.Capture), AutoOffHours: d.AutoOffHours}.normalized(), nil
}

// parseConsoleLog reads stored settings.
func parseConsoleLog(raw string) (ConsoleLog, error) {
	var c ConsoleLog
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			return c, fmt.Errorf("pipeline: stored console-log settings are unreadable: %w", err)
		}
	}
	return c.normalized(), nil
}

// apply returns c with the patch applied.
func (c ConsoleLog) apply(p *ConsoleLogPatch) ConsoleLog {
	c.Capture, c.Sensitive = slices.Clone(c.Capture), slices.Clone(c.Sensitive)
	if p == nil {
		return c.normalized()
	}
	if p.Enabled != nil {
		c.Enabled = *p.Enabled
	}
	if p.Capture != nil {
		c.Capture = slices.Clone(*p.Capture)
	}
	if p.Sensitive != nil {
		c.Sensitive = slices.Clone(*p.Sensitive)
	}
	if p.AutoOffHours != nil {
		c.AutoOffHours = *p.AutoOffHours
	}
	return c.normalized()
}

// normalized shows empty lists as [], never null.
func (c ConsoleLog) normalized() ConsoleLog {
	if c.Capture == nil {
		c.Capture = []string{}
	}
	if c.Sensitive == nil {
		c.Sensitive = []string{}
	}
	return c
}

// encode is the stored (and compared) form.
func (c ConsoleLog) encode() string {
	b, _ := json.Marshal(c.normalized())
	return string(b)
}

// sensitivePathRE accepts a JSON path of object keys and array indexes:
// an optional "$." or "." root, then dot-separated keys (letters, digits,
// "_", "-", or "*" for any key), each followed by any number of "[n]" or
// "[*]".
var sensitivePathRE = regexp.MustCompile(`^(\$\.|\.)?([A-Za-z0-9_-]+|\*)(\[(\*|[0-9]+)\])*(\.([A-Za-z0-9_-]+|\*)(\[(\*|[0-9]+)\])*)*$`)

const (
	maxSensitive     = 100
	maxSensitivePath = 200
	maxAutoOffHours  = 720
)

// validate lists every problem of the settings with its path under
// "console_log.".
func (c ConsoleLog) validate(ps *problems) {
	seen := map[string]bool{}
	for i, k := range c.Capture {
		path := fmt.Sprintf("console_log.capture[%d]", i)
		switch {
		case !slices.Contains(project.CaptureKinds, k):
			ps.add(path, "%q is not something a console log captures: use %s", clip(k), strings.Join(project.CaptureKinds, ", "))
		case seen[k]:
			ps.add(path, "%q is listed twice", k)
		}
		seen[k] = true
	}
	if len(c.Sensitive) > maxSensitive {
		ps.add("console_log.sensitive", "lists more than %d paths", maxSensitive)
	}
	for i, s := range c.Sensitive {
		if len(s) > maxSensitivePath || !sensitivePathRE.MatchString(s) {
			ps.add(fmt.Sprintf("console_log.sensitive[%d]", i), "%q is not a JSON path such as customer.email, $.items[*].card_number or headers.X-Api-Key (at most %d characters)", clip(s), maxSensitivePath)
		}
	}
	if c.AutoOffHours < 1 || c.AutoOffHours > maxAutoOffHours {
		ps.add("console_log.auto_off_hours", "must be between 1 and %d hours, so a forgotten debug setting switches itself off", maxAutoOffHours)
	}
}

// clip keeps echoed input short in messages.
func clip(s string) string {
	if r := []rune(s); len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return s
}
