package project

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/store"
)

// testPlan is the default plan's retention (see the 0002 migrations).
var testPlan = &store.Plan{ID: "default", Name: "Default", RunLogRetentionDays: 30, ConsoleLogRetentionDays: 7, AuditRetentionDays: 365}

// problemFields are the field paths of a Validate error, in order.
func problemFields(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate returned %T %v, want *ValidationError", err, err)
	}
	out := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		if p.Message == "" {
			t.Errorf("problem at %s has no message", p.Field)
		}
		out[i] = p.Field
	}
	return out
}

func many(n int, f func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(s *Settings)
		want   []string // field paths, in order; nil: valid
	}{
		{"defaults are valid", func(s *Settings) {}, nil},
		{"every field set well", func(s *Settings) {
			s.TimeZone = "America/Chicago"
			s.Alerts = Alerts{Enabled: true, Emails: []string{"ops@example.com"}, On: []string{"failed", "partially_failed"}}
			s.DynamicIPAllowlist = []string{"203.0.113.0/24", "2001:db8::/32", "198.51.100.7"}
			s.EgressAllowlist = []string{"10.20.0.0/16", "erp.internal", "*.corp.example", "127.0.0.1"}
			s.Retention = Retention{RunLogDays: 30, ConsoleLogDays: 7}
			s.ConsoleLogDefaults = ConsoleLogDefaults{Enabled: true, Capture: slices.Clone(CaptureKinds), AutoOffHours: 720}
		}, nil},
		{"auto_off_hours 1 is the least", func(s *Settings) { s.ConsoleLogDefaults.AutoOffHours = 1 }, nil},
		{"time zone empty", func(s *Settings) { s.TimeZone = "" }, []string{"settings.time_zone"}},
		{"time zone unknown", func(s *Settings) { s.TimeZone = "Mars/Olympus" }, []string{"settings.time_zone"}},
		{"time zone Local", func(s *Settings) { s.TimeZone = "Local" }, []string{"settings.time_zone"}},
		{"time zone path", func(s *Settings) { s.TimeZone = "../../etc/passwd" }, []string{"settings.time_zone"}},
		{"alert email invalid", func(s *Settings) { s.Alerts.Emails = []string{"ops@example.com", "not-an-email"} },
			[]string{"settings.alerts.emails[1]"}},
		{"alert email with a display name", func(s *Settings) { s.Alerts.Emails = []string{"Ops <ops@example.com>"} },
			[]string{"settings.alerts.emails[0]"}},
		{"alerts on without an address", func(s *Settings) { s.Alerts.Enabled = true }, []string{"settings.alerts.emails"}},
		{"too many alert emails", func(s *Settings) {
			s.Alerts.Emails = many(21, func(i int) string { return fmt.Sprintf("u%d@example.com", i) })
		}, []string{"settings.alerts.emails"}},
		{"alert on a status that does not alert", func(s *Settings) { s.Alerts.On = []string{"failed", "completed"} },
			[]string{"settings.alerts.on[1]"}},
		{"dynamic IP not an address", func(s *Settings) { s.DynamicIPAllowlist = []string{"nope"} },
			[]string{"settings.dynamic_ip_allowlist[0]"}},
		{"dynamic IP prefix too long", func(s *Settings) { s.DynamicIPAllowlist = []string{"10.0.0.0/8", "10.0.0.0/33"} },
			[]string{"settings.dynamic_ip_allowlist[1]"}},
		{"dynamic IP with a zone", func(s *Settings) { s.DynamicIPAllowlist = []string{"fe80::1%eth0"} },
			[]string{"settings.dynamic_ip_allowlist[0]"}},
		{"dynamic IP host name", func(s *Settings) { s.DynamicIPAllowlist = []string{"erp.internal"} },
			[]string{"settings.dynamic_ip_allowlist[0]"}},
		{"too many dynamic IPs", func(s *Settings) {
			s.DynamicIPAllowlist = many(101, func(i int) string { return fmt.Sprintf("10.0.%d.0/24", i) })
		}, []string{"settings.dynamic_ip_allowlist"}},
		{"egress entry neither CIDR nor host", func(s *Settings) { s.EgressAllowlist = []string{"10.0.0.0/8", "erp.internal", "bad host!"} },
			[]string{"settings.egress_allowlist[2]"}},
		{"egress host with a leading hyphen", func(s *Settings) { s.EgressAllowlist = []string{"-erp.internal"} },
			[]string{"settings.egress_allowlist[0]"}},
		{"egress URL instead of a host", func(s *Settings) { s.EgressAllowlist = []string{"https://erp.internal/"} },
			[]string{"settings.egress_allowlist[0]"}},
		{"egress wildcard in the middle", func(s *Settings) { s.EgressAllowlist = []string{"erp.*.internal"} },
			[]string{"settings.egress_allowlist[0]"}},
		{"egress empty entry", func(s *Settings) { s.EgressAllowlist = []string{""} },
			[]string{"settings.egress_allowlist[0]"}},
		{"too many egress entries", func(s *Settings) {
			s.EgressAllowlist = many(101, func(i int) string { return fmt.Sprintf("h%d.example", i) })
		}, []string{"settings.egress_allowlist"}},
		{"run-log retention beyond the plan", func(s *Settings) { s.Retention.RunLogDays = 31 },
			[]string{"settings.retention.run_log_days"}},
		{"run-log retention negative", func(s *Settings) { s.Retention.RunLogDays = -1 },
			[]string{"settings.retention.run_log_days"}},
		{"console-log retention beyond the plan", func(s *Settings) { s.Retention.ConsoleLogDays = 8 },
			[]string{"settings.retention.console_log_days"}},
		{"capture kind unknown", func(s *Settings) { s.ConsoleLogDefaults.Capture = []string{"body"} },
			[]string{"settings.console_log_defaults.capture[0]"}},
		{"auto_off_hours 0", func(s *Settings) { s.ConsoleLogDefaults.AutoOffHours = 0 },
			[]string{"settings.console_log_defaults.auto_off_hours"}},
		{"auto_off_hours 721", func(s *Settings) { s.ConsoleLogDefaults.AutoOffHours = 721 },
			[]string{"settings.console_log_defaults.auto_off_hours"}},
		{"every problem at once, in order", func(s *Settings) {
			s.TimeZone = "Nowhere/Special"
			s.Alerts.Emails = []string{"ok@example.com", "@"}
			s.Alerts.On = []string{"running"}
			s.DynamicIPAllowlist = []string{"300.1.1.1"}
			s.EgressAllowlist = []string{"10.0.0.0/8", "ok.example", "no spaces.example"}
			s.Retention = Retention{RunLogDays: 365, ConsoleLogDays: -3}
			s.ConsoleLogDefaults = ConsoleLogDefaults{Capture: []string{"method_url", "everything"}, AutoOffHours: 721}
		}, []string{
			"settings.time_zone", "settings.alerts.emails[1]", "settings.alerts.on[0]", "settings.dynamic_ip_allowlist[0]",
			"settings.egress_allowlist[2]", "settings.retention.run_log_days", "settings.retention.console_log_days",
			"settings.console_log_defaults.capture[1]", "settings.console_log_defaults.auto_off_hours",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSettings()
			tc.change(&s)
			got := problemFields(t, s.Validate(testPlan))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("problems at %q, want %q", got, tc.want)
			}
		})
	}
}

// TestValidateRetentionFollowsThePlan: the same days are fine on a larger
// plan and refused on a smaller one.
func TestValidateRetentionFollowsThePlan(t *testing.T) {
	s := DefaultSettings()
	s.Retention = Retention{RunLogDays: 60, ConsoleLogDays: 10}
	large := &store.Plan{RunLogRetentionDays: 90, ConsoleLogRetentionDays: 14}
	if err := s.Validate(large); err != nil {
		t.Fatalf("within a large plan: %v", err)
	}
	if got := problemFields(t, s.Validate(testPlan)); !slices.Equal(got, []string{"settings.retention.run_log_days", "settings.retention.console_log_days"}) {
		t.Fatalf("beyond the default plan: problems at %q", got)
	}
}

func TestValidateNormalizes(t *testing.T) {
	s := DefaultSettings()
	s.Alerts.Emails = []string{"Ops@Example.COM", " dev@example.com "}
	s.DynamicIPAllowlist = []string{"10.1.2.3/8", "203.0.113.7", "2001:DB8::1", " 192.168.1.0/24 ", "2001:db8:abcd::1/32"}
	s.EgressAllowlist = []string{"ERP.Internal", "*.Corp.Example.", "10.9.8.7", "172.16.5.4/12", "::1"}
	if err := s.Validate(testPlan); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want []string
	}{
		{"emails lowercased", s.Alerts.Emails, []string{"ops@example.com", "dev@example.com"}},
		{"CIDRs masked, single IPs /32 or /128", s.DynamicIPAllowlist,
			[]string{"10.0.0.0/8", "203.0.113.7/32", "2001:db8::1/128", "192.168.1.0/24", "2001:db8::/32"}},
		{"host names lowercased, addresses as prefixes", s.EgressAllowlist,
			[]string{"erp.internal", "*.corp.example", "10.9.8.7/32", "172.16.0.0/12", "::1/128"}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestApplyLeavesAbsentFieldsAlone(t *testing.T) {
	before := DefaultSettings()
	before.TimeZone = "Europe/Berlin"
	before.Alerts = Alerts{Enabled: true, Emails: []string{"ops@example.com"}, On: []string{"failed"}}
	before.EgressAllowlist = []string{"erp.internal"}
	before.Retention = Retention{RunLogDays: 14}

	tz := "America/Chicago"
	after := before.Apply(&SettingsPatch{TimeZone: &tz})
	want := before
	want.TimeZone = tz
	if !reflect.DeepEqual(after, want) {
		t.Fatalf("Apply(time_zone) = %+v, want %+v", after, want)
	}
	if before.TimeZone != "Europe/Berlin" {
		t.Fatal("Apply changed the settings it was called on")
	}
	if got := before.Apply(nil); !reflect.DeepEqual(got, before) {
		t.Fatalf("Apply(nil) = %+v", got)
	}

	// A present key is replaced whole, but alerts without "on" alert on
	// every failure (the default) rather than on nothing.
	after = before.Apply(&SettingsPatch{Alerts: &Alerts{Enabled: false}})
	if after.Alerts.Enabled || after.Alerts.Emails == nil || len(after.Alerts.Emails) != 0 || len(after.Alerts.On) != 2 ||
		after.TimeZone != before.TimeZone || !slices.Equal(after.EgressAllowlist, before.EgressAllowlist) || after.Retention != before.Retention {
		t.Fatalf("Apply(alerts) = %+v", after)
	}
	empty := []string{}
	after = before.Apply(&SettingsPatch{EgressAllowlist: &empty})
	if after.EgressAllowlist == nil || len(after.EgressAllowlist) != 0 || !reflect.DeepEqual(after.Alerts, before.Alerts) {
		t.Fatalf("Apply(egress []) = %+v", after)
	}

	// The JSON of a PATCH: absent keys stay absent.
	var p SettingsPatch
	if err := json.Unmarshal([]byte(`{"retention": {"run_log_days": 3}}`), &p); err != nil {
		t.Fatal(err)
	}
	after = before.Apply(&p)
	want = before
	want.Retention = Retention{RunLogDays: 3}
	if !reflect.DeepEqual(after, want) {
		t.Fatalf("Apply(%+v) = %+v, want %+v", p, after, want)
	}
}

func TestDiff(t *testing.T) {
	before := DefaultSettings()
	after := before
	if d := Diff(before, after); len(d) != 0 {
		t.Fatalf("Diff of equal settings = %v", d)
	}
	after.TimeZone = "Europe/Berlin"
	after.EgressAllowlist = []string{"erp.internal"}
	after.ConsoleLogDefaults.AutoOffHours = 48
	d := Diff(before, after)
	got, _ := json.Marshal(d)
	want := `{"settings.console_log_defaults":{"after":{"enabled":false,"capture":[],"auto_off_hours":48},"before":{"enabled":false,"capture":[],"auto_off_hours":24}},` +
		`"settings.egress_allowlist":{"after":["erp.internal"],"before":[]},` +
		`"settings.time_zone":{"after":"Europe/Berlin","before":"UTC"}}`
	if string(got) != want {
		t.Fatalf("Diff =\n%s\nwant\n%s", got, want)
	}
}

func TestParseSettings(t *testing.T) {
	if s, err := ParseSettings(""); err != nil || !reflect.DeepEqual(s, DefaultSettings()) {
		t.Fatalf(`ParseSettings("") = %+v, %v; want the defaults`, s, err)
	}
	// A row written before most fields existed.
	s, err := ParseSettings(`{"time_zone": "Europe/Berlin", "alerts": {"enabled": true, "emails": ["ops@example.com"]}}`)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultSettings()
	want.TimeZone = "Europe/Berlin"
	want.Alerts.Enabled, want.Alerts.Emails = true, []string{"ops@example.com"}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("old row = %+v, want %+v", s, want)
	}
	if s.ConsoleLogDefaults.AutoOffHours != 24 || !slices.Equal(s.Alerts.On, []string{"failed", "partially_failed"}) {
		t.Fatalf("fields missing from the row are not their defaults: %+v", s)
	}
	if err := s.Validate(testPlan); err != nil {
		t.Fatalf("an old row does not validate: %v", err)
	}
	if _, err := ParseSettings(`{"time_zone":`); err == nil || !strings.Contains(err.Error(), "unreadable") {
		t.Fatalf("a broken row: %v", err)
	}
	// A round trip keeps everything.
	full := DefaultSettings()
	full.DynamicIPAllowlist = []string{"203.0.113.0/24"}
	full.Retention = Retention{RunLogDays: 5, ConsoleLogDays: 2}
	raw, _ := json.Marshal(full)
	if back, err := ParseSettings(string(raw)); err != nil || !reflect.DeepEqual(back, full) {
		t.Fatalf("round trip = %+v, %v", back, err)
	}
}

func TestAlertsOnDefaultsWhenAbsent(t *testing.T) {
	s := DefaultSettings().Apply(&SettingsPatch{Alerts: &Alerts{Enabled: true, Emails: []string{"ops@example.com"}}})
	if len(s.Alerts.On) != 2 {
		t.Fatalf("alerts.on absent from the patch: %v, want both failure statuses", s.Alerts.On)
	}
	if err := s.Validate(nil); err != nil {
		t.Fatal(err)
	}
	s = DefaultSettings().Apply(&SettingsPatch{Alerts: &Alerts{Enabled: true, Emails: []string{"ops@example.com"}, On: []string{}}})
	err := s.Validate(nil)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Problems[0].Field != "settings.alerts.on" {
		t.Fatalf("enabled alerts on nothing: %v", err)
	}
	s = DefaultSettings().Apply(&SettingsPatch{EgressAllowlist: &[]string{"127.1", "10.1"}})
	if err := s.Validate(nil); !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("numeric host names: %v", err)
	}
}
