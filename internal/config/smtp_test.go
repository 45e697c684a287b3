package config

import (
	"strings"
	"testing"
)

func TestSMTPSettings(t *testing.T) {
	set := DB | Server | Worker | Logging
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{name: "none"},
		{name: "loopback, no login", args: []string{"--smtp-addr", "127.0.0.1:25", "--smtp-from", "sluice@example.com"}},
		{name: "with login", args: []string{"--smtp-addr", "smtp.example.com:587", "--smtp-from", "sluice@example.com", "--smtp-username", "u"},
			env: map[string]string{"SLUICE_SMTP_PASSWORD": "pw"}},
		{name: "from env", env: map[string]string{"SLUICE_SMTP_ADDR": "smtp.example.com:587", "SLUICE_SMTP_FROM": "sluice@example.com"}},
		{name: "no port", args: []string{"--smtp-addr", "smtp.example.com", "--smtp-from", "s@example.com"}, wantErr: "want host:port"},
		{name: "port 0", args: []string{"--smtp-addr", "smtp.example.com:0", "--smtp-from", "s@example.com"}, wantErr: "from 1 to 65535"},
		{name: "no sender", args: []string{"--smtp-addr", "smtp.example.com:587"}, wantErr: "needs --smtp-from"},
		{name: "sender with a name", args: []string{"--smtp-addr", "smtp.example.com:587", "--smtp-from", "Sluice <s@example.com>"}, wantErr: "plain address"},
		{name: "user without password", args: []string{"--smtp-addr", "smtp.example.com:587", "--smtp-from", "s@example.com", "--smtp-username", "u"},
			wantErr: "together"},
		{name: "sender without server", args: []string{"--smtp-from", "s@example.com"}, wantErr: "need --smtp-addr"},
		{name: "password without server", env: map[string]string{"SLUICE_SMTP_PASSWORD": "hunter2"}, wantErr: "need --smtp-addr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--data-dir", t.TempDir()}, tc.args...)
			c, _, err := Parse("serve", set, args, func(k string) string { return tc.env[k] })
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if tc.env["SLUICE_SMTP_PASSWORD"] != "" && c.SMTPPassword.Reveal() != tc.env["SLUICE_SMTP_PASSWORD"] {
					t.Errorf("password not read from the environment")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Parse: %v, want an error containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}
