package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestBlobSettings(t *testing.T) {
	set := DB | Server | Worker | Logging
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{name: "blob dir defaults to the data dir's blobs", args: []string{"--data-dir", "/srv/sluice"}, check: func(t *testing.T, c *Config) {
			if c.BlobDir != "/srv/sluice/blobs" || c.S3Bucket != "" {
				t.Fatalf("blob dir %q, bucket %q", c.BlobDir, c.S3Bucket)
			}
		}},
		{name: "blob dir from env", env: map[string]string{"SLUICE_BLOB_DIR": "/srv/blobs"}, check: func(t *testing.T, c *Config) {
			if c.BlobDir != "/srv/blobs" {
				t.Fatalf("blob dir %q", c.BlobDir)
			}
		}},
		{name: "s3 from flags, credentials from env",
			args: []string{"--s3-endpoint", "http://127.0.0.1:7070", "--s3-region", "eu-1", "--s3-bucket", "logs", "--s3-prefix", "sluice/", "--s3-path-style"},
			env:  map[string]string{"SLUICE_S3_ACCESS_KEY_ID": "AKID", "SLUICE_S3_SECRET_ACCESS_KEY": "s3cret"},
			check: func(t *testing.T, c *Config) {
				if c.S3Endpoint != "http://127.0.0.1:7070" || c.S3Region != "eu-1" || c.S3Bucket != "logs" || c.S3Prefix != "sluice/" || !c.S3PathStyle ||
					c.S3AccessKeyID != "AKID" || c.S3SecretAccessKey.Reveal() != "s3cret" {
					t.Fatalf("s3 settings: %+v", c)
				}
				if s := fmt.Sprintf("%v %+v", c, c); strings.Contains(s, "s3cret") {
					t.Errorf("printing the config shows the secret: %s", s)
				}
			}},
		{name: "s3 from env", env: map[string]string{"SLUICE_S3_BUCKET": "logs", "SLUICE_S3_PATH_STYLE": "true"}, check: func(t *testing.T, c *Config) {
			if c.S3Bucket != "logs" || !c.S3PathStyle {
				t.Fatalf("s3 settings: %+v", c)
			}
		}},
		{name: "secret is no flag", args: []string{"--s3-secret-access-key", "x"}, wantErr: "not defined"},
		{name: "endpoint without bucket", args: []string{"--s3-endpoint", "http://127.0.0.1:7070"}, wantErr: "need --s3-bucket"},
		{name: "credentials without bucket", env: map[string]string{"SLUICE_S3_SECRET_ACCESS_KEY": "x"}, wantErr: "need --s3-bucket"},
		{name: "key id without secret", args: []string{"--s3-bucket", "logs"}, env: map[string]string{"SLUICE_S3_ACCESS_KEY_ID": "AKID"}, wantErr: "together"},
		{name: "blob dir inside files dir", args: []string{"--files-dir", "/srv/files", "--blob-dir", "/srv/files/blobs"}, wantErr: "--blob-dir /srv/files/blobs is inside --files-dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := Parse("serve", set, tc.args, func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("the error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tc.check(t, c)
		})
	}
}
