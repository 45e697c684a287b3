package project

import (
	"errors"
	"strings"
	"testing"
)

func TestAlertWebhookURL(t *testing.T) {
	for _, tc := range []struct {
		name   string
		url    string
		egress []string
		emails []string
		want   string // part of the problem on settings.alerts.webhook_url; "" valid
	}{
		{name: "https anywhere", url: "https://hooks.example.com/sluice/T0K3N?x=1"},
		{name: "webhook instead of e-mail", url: "https://hooks.example.com/x", emails: []string{}},
		{name: "http to an allowlisted address", url: "http://10.1.2.3:8080/hook", egress: []string{"10.0.0.0/8"}},
		{name: "http to an allowlisted host", url: "http://alerts.corp.example/hook", egress: []string{"*.corp.example"}},
		{name: "http to an exact host", url: "http://erp.internal/hook", egress: []string{"ERP.internal"}},
		{name: "http elsewhere", url: "http://hooks.example.com/x", egress: []string{"10.0.0.0/8"}, want: "plain http"},
		{name: "http to an address outside", url: "http://192.168.1.1/x", egress: []string{"10.0.0.0/8"}, want: "plain http"},
		{name: "credentials", url: "https://user:pw@hooks.example.com/x", want: "credentials"},
		{name: "relative", url: "/hook", want: "absolute URL"},
		{name: "other scheme", url: "ftp://hooks.example.com/x", want: "scheme"},
		{name: "fragment", url: "https://hooks.example.com/x#y", want: "fragment"},
		{name: "too long", url: "https://hooks.example.com/" + strings.Repeat("a", 2100), want: "longer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSettings()
			s.Alerts = Alerts{Enabled: true, Emails: []string{"ops@example.com"}, On: []string{"failed"}, WebhookURL: tc.url}
			if tc.emails != nil {
				s.Alerts.Emails = tc.emails
			}
			s.EgressAllowlist = tc.egress
			err := s.Validate(nil)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Field != "settings.alerts.webhook_url" || !strings.Contains(ve.Problems[0].Message, tc.want) {
				t.Fatalf("Validate: %v, want one problem on settings.alerts.webhook_url with %q", err, tc.want)
			}
			if strings.Contains(ve.Problems[0].Message, ":pw@") {
				t.Errorf("the problem repeats the password: %s", ve.Problems[0].Message)
			}
		})
	}
	// Enabled with neither an address nor a webhook.
	s := DefaultSettings()
	s.Alerts = Alerts{Enabled: true, Emails: []string{}, On: []string{"failed"}}
	if err := s.Validate(nil); err == nil || !strings.Contains(err.Error(), "webhook") {
		t.Errorf("alerts with nowhere to go: %v", err)
	}
}
