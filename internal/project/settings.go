package project

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones validate the same on any machine

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/store"
)

// Settings are a project's configuration. Fields later features use (the
// allowlists, console-log defaults, alerts) are stored and validated now.
type Settings struct {
	// TimeZone is the IANA zone schedules and reports use.
	TimeZone string `json:"time_zone"`
	// Alerts say who hears about failed runs.
	Alerts Alerts `json:"alerts"`
	// DynamicIPAllowlist limits which addresses may call the project's
	// dynamic flows (CIDRs or single addresses; empty: any).
	DynamicIPAllowlist []string `json:"dynamic_ip_allowlist"`
	// EgressAllowlist names private or loopback destinations the
	// project's connections may reach (CIDRs or host names).
	EgressAllowlist []string `json:"egress_allowlist"`
	// Retention shortens the plan's retention (0: the plan's).
	Retention Retention `json:"retention"`
	// ConsoleLogDefaults are what new pipes start with.
	ConsoleLogDefaults ConsoleLogDefaults `json:"console_log_defaults"`
}

// Alerts configures failure alerts.
type Alerts struct {
	Enabled bool     `json:"enabled"`
	Emails  []string `json:"emails"`
	// On lists the run statuses that alert: failed, partially_failed.
	On []string `json:"on"`
	// WebhookURL receives each alert as a JSON POST, through the
	// project's egress guard: https, or http only to a host the egress
	// allowlist names ("" for none).
	WebhookURL string `json:"webhook_url"`
}

// Retention overrides the plan's retention, within it.
type Retention struct {
	RunLogDays     int `json:"run_log_days"`
	ConsoleLogDays int `json:"console_log_days"`
}

// ConsoleLogDefaults are the console-log settings new pipes get.
type ConsoleLogDefaults struct {
	Enabled      bool     `json:"enabled"`
	Capture      []string `json:"capture"`
	AutoOffHours int      `json:"auto_off_hours"`
}

// SettingsPatch is a change to some settings: absent fields stay as they
// are, present ones are replaced whole.
type SettingsPatch struct {
	TimeZone           *string             `json:"time_zone"`
	Alerts             *Alerts             `json:"alerts"`
	DynamicIPAllowlist *[]string           `json:"dynamic_ip_allowlist"`
	EgressAllowlist    *[]string           `json:"egress_allowlist"`
	Retention          *Retention          `json:"retention"`
	ConsoleLogDefaults *ConsoleLogDefaults `json:"console_log_defaults"`
}

// DefaultSettings are a new project's settings.
func DefaultSettings() Settings {
	return Settings{
		TimeZone:           "UTC",
		Alerts:             Alerts{Emails: []string{}, On: []string{"failed", "partially_failed"}},
		DynamicIPAllowlist: []string{},
		EgressAllowlist:    []string{},
		ConsoleLogDefaults: ConsoleLogDefaults{Capture: []string{}, AutoOffHours: 24},
	}
}

// ParseSettings reads stored settings over the defaults, so fields added
// later read as their defaults in old rows.
func ParseSettings(raw string) (Settings, error) {
	s := DefaultSettings()
	if raw == "" {
		return s, nil
	}
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return s, fmt.Errorf("project: stored settings are unreadable: %w", err)
	}
	return s, nil
}

// Apply returns s with the patch applied.
func (s Settings) Apply(p *SettingsPatch) Settings {
	if p == nil {
		return s
	}
	if p.TimeZone != nil {
		s.TimeZone = *p.TimeZone
	}
	if p.Alerts != nil {
		s.Alerts = *p.Alerts
		if s.Alerts.On == nil { // absent, not []: alert on every failure
			s.Alerts.On = DefaultSettings().Alerts.On
		}
	}
	if p.DynamicIPAllowlist != nil {
		s.DynamicIPAllowlist = *p.DynamicIPAllowlist
	}
	if p.EgressAllowlist != nil {
		s.EgressAllowlist = *p.EgressAllowlist
	}
	if p.Retention != nil {
		s.Retention = *p.Retention
	}
	if p.ConsoleLogDefaults != nil {
		s.ConsoleLogDefaults = *p.ConsoleLogDefaults
	}
	return s.normalized()
}

// normalized replaces nil lists with empty ones, so answers show [] and
// not null.
func (s Settings) normalized() Settings {
	for _, l := range []*[]string{&s.Alerts.Emails, &s.Alerts.On, &s.DynamicIPAllowlist, &s.EgressAllowlist, &s.ConsoleLogDefaults.Capture} {
		if *l == nil {
			*l = []string{}
		}
	}
	return s
}

// CaptureKinds are what a console log can capture (DESIGN §6).
var CaptureKinds = []string{"method_url", "headers", "params", "request", "response", "records"}

var alertStatuses = []string{"failed", "partially_failed"}

// hostnameRE accepts a DNS name, optionally with a leading "*." wildcard.
var hostnameRE = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

const maxListLen = 100

// Validate checks every setting against the rules and the plan, listing
// every problem with its path ("settings.time_zone") and what to do.
func (s *Settings) Validate(plan *store.Plan) error {
	var ps problems
	if s.TimeZone == "" {
		ps.add("settings.time_zone", "is required: an IANA time zone such as Europe/Berlin or UTC")
	} else if _, err := time.LoadLocation(s.TimeZone); err != nil || strings.EqualFold(s.TimeZone, "local") {
		ps.add("settings.time_zone", fmt.Sprintf("%q is not an IANA time zone: use a name such as America/Chicago or UTC", s.TimeZone))
	}
	if len(s.Alerts.Emails) > 20 {
		ps.add("settings.alerts.emails", "lists more than 20 addresses")
	}
	for i, e := range s.Alerts.Emails {
		norm, err := account.NormalizeEmail(e)
		if err != nil {
			ps.add(fmt.Sprintf("settings.alerts.emails[%d]", i), fmt.Sprintf("%q is not a valid email address", e))
			continue
		}
		s.Alerts.Emails[i] = norm
	}
	if s.Alerts.Enabled && len(s.Alerts.Emails) == 0 && s.Alerts.WebhookURL == "" {
		ps.add("settings.alerts.emails", "is empty and there is no webhook_url but alerts are enabled: add an address or a webhook, or disable alerts")
	}
	if s.Alerts.Enabled && len(s.Alerts.On) == 0 {
		ps.add("settings.alerts.on", "is empty but alerts are enabled: list failed, partially_failed or both")
	}
	for i, st := range s.Alerts.On {
		if !slices.Contains(alertStatuses, st) {
			ps.add(fmt.Sprintf("settings.alerts.on[%d]", i), fmt.Sprintf("%q is not a run status that alerts: use %s", st, strings.Join(alertStatuses, " or ")))
		}
	}
	if len(s.DynamicIPAllowlist) > maxListLen {
		ps.add("settings.dynamic_ip_allowlist", fmt.Sprintf("has more than %d entries", maxListLen))
	}
	for i, c := range s.DynamicIPAllowlist {
		norm, ok := normalizePrefix(c)
		if !ok {
			ps.add(fmt.Sprintf("settings.dynamic_ip_allowlist[%d]", i), fmt.Sprintf("%q is not an IP address or CIDR such as 203.0.113.0/24", c))
			continue
		}
		s.DynamicIPAllowlist[i] = norm
	}
	if len(s.EgressAllowlist) > maxListLen {
		ps.add("settings.egress_allowlist", fmt.Sprintf("has more than %d entries", maxListLen))
	}
	for i, e := range s.EgressAllowlist {
		if norm, ok := normalizePrefix(e); ok {
			s.EgressAllowlist[i] = norm
			continue
		}
		h := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(e), "."))
		// A name whose last label is all digits ("127.1") is an address
		// in disguise to many resolvers: refuse it as a host name.
		last := h[strings.LastIndex(h, ".")+1:]
		if len(h) > 253 || !hostnameRE.MatchString(h) || strings.Trim(last, "0123456789") == "" {
			ps.add(fmt.Sprintf("settings.egress_allowlist[%d]", i), fmt.Sprintf("%q is neither a CIDR, an IP address nor a host name such as erp.internal or *.corp.example", e))
			continue
		}
		s.EgressAllowlist[i] = h
	}
	if s.Alerts.WebhookURL != "" {
		if msg := checkWebhookURL(s.Alerts.WebhookURL, s.EgressAllowlist); msg != "" {
			ps.add("settings.alerts.webhook_url", msg)
		}
	}
	checkDays := func(field string, days, max int) {
		if days < 0 || (max > 0 && days > max) {
			ps.add(field, fmt.Sprintf("must be between 0 (the plan's %d days) and the plan's %d days", max, max))
		}
	}
	if plan != nil {
		checkDays("settings.retention.run_log_days", s.Retention.RunLogDays, plan.RunLogRetentionDays)
		checkDays("settings.retention.console_log_days", s.Retention.ConsoleLogDays, plan.ConsoleLogRetentionDays)
	}
	for i, c := range s.ConsoleLogDefaults.Capture {
		if !slices.Contains(CaptureKinds, c) {
			ps.add(fmt.Sprintf("settings.console_log_defaults.capture[%d]", i), fmt.Sprintf("%q is not something a console log captures: use %s", c, strings.Join(CaptureKinds, ", ")))
		}
	}
	if h := s.ConsoleLogDefaults.AutoOffHours; h < 1 || h > 720 {
		ps.add("settings.console_log_defaults.auto_off_hours", "must be between 1 and 720 hours, so a forgotten debug setting switches itself off")
	}
	return ps.err()
}

// checkWebhookURL says what is wrong with an alert webhook URL, or "".
// Plain http is refused unless the host is named by allow (the project's
// normalized egress allowlist): alerts would travel in clear. The egress
// guard still checks every address when an alert is sent.
func checkWebhookURL(raw string, allow []string) string {
	if len(raw) > 2048 {
		return "is longer than 2048 characters"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" || u.Opaque != "" {
		return fmt.Sprintf("%q is not an absolute URL such as https://hooks.example.com/sluice", raw)
	}
	if u.User != nil {
		return "holds a user name or password: put no credentials in the URL (a token in its path or query is fine)"
	}
	if u.Fragment != "" {
		return "has a #fragment, which is never sent: remove it"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		if webhookHostAllowed(u.Hostname(), allow) {
			return ""
		}
		return fmt.Sprintf("uses plain http to %s, which the project's egress allowlist does not name: use https, or add the host to settings.egress_allowlist", u.Hostname())
	}
	return fmt.Sprintf("has scheme %q: use https (or http to a host in the egress allowlist)", u.Scheme)
}

// webhookHostAllowed says whether an egress allowlist entry names host:
// an address inside a CIDR, or a host name equal to an entry or under a
// "*." entry.
func webhookHostAllowed(host string, allow []string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	a, addrErr := netip.ParseAddr(host)
	for _, e := range allow {
		if addrErr == nil {
			if p, err := netip.ParsePrefix(e); err == nil && p.Contains(a.Unmap()) {
				return true
			}
			continue
		}
		if e == host || (strings.HasPrefix(e, "*.") && strings.HasSuffix(host, e[1:])) {
			return true
		}
	}
	return false
}

// normalizePrefix reads an IP address or CIDR in canonical form.
func normalizePrefix(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked().String(), true
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return netip.PrefixFrom(a, a.BitLen()).String(), true
	}
	return "", false
}

// Diff lists the top-level settings that differ, with before and after,
// for the audit event of a change.
func Diff(before, after Settings) map[string]any {
	b, _ := json.Marshal(before)
	a, _ := json.Marshal(after)
	var bm, am map[string]json.RawMessage
	_ = json.Unmarshal(b, &bm)
	_ = json.Unmarshal(a, &am)
	out := map[string]any{}
	for k, av := range am {
		if bv := bm[k]; string(bv) != string(av) {
			out["settings."+k] = map[string]json.RawMessage{"before": bv, "after": av}
		}
	}
	return out
}
