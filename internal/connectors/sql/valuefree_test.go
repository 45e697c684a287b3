package sql

import (
	"context"
	"strings"
	"testing"
)

// TestRefusedRowErrorsQuoteNoValue writes rows the database refuses, each
// with a canary in the refused value: the row's error names the kind of
// problem and the constraint or column, never the value (the engine
// stores it with the run).
func TestRefusedRowErrorsQuoteNoValue(t *testing.T) {
	const canary = "CNRY-0d4c9e71ab"
	eachDialect(t, func(t *testing.T, d *testDB) {
		d.exec(t, "CREATE TABLE people (id BIGINT PRIMARY KEY, email VARCHAR(80) NOT NULL, age INT, CONSTRAINT people_email_key UNIQUE (email), CONSTRAINT people_age_check CHECK (age < 1000))")
		s := d.sink(t, map[string]any{"table": "people"})
		ctx := context.Background()
		if _, err := s.Write(ctx, recs(map[string]any{"id": 1.0, "email": canary + "@example.com"})); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			row  map[string]any
			want []string // one of them must appear
		}{
			{"unique", map[string]any{"id": 2.0, "email": canary + "@example.com"}, []string{"people_email_key", "email"}},
			{"primary key", map[string]any{"id": 1.0, "email": canary + "-2"}, []string{"PRIMARY", "people_pkey"}},
			{"bad integer", map[string]any{"id": 3.0, "email": "a@b.c", "age": canary}, []string{"integer", "age"}},
			{"check", map[string]any{"id": 4.0, "email": canary + "-4", "age": 123456.0}, []string{"people_age_check", "CONSTRAINT"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				outs, err := s.Write(ctx, recs(tc.row))
				if err != nil {
					if strings.Contains(err.Error(), "CNRY") || strings.Contains(err.Error(), "123456") {
						t.Fatalf("the Write's error quotes a value: %v", err)
					}
					t.Logf("whole Write failed: %v", err)
					return
				}
				if outs[0].Err == nil {
					t.Fatal("the row was not refused")
				}
				msg := outs[0].Err.Error()
				t.Logf("stored: %s", msg)
				if strings.Contains(msg, "CNRY") || strings.Contains(msg, "123456") {
					t.Errorf("the row's error quotes a value: %s", msg)
				}
				found := false
				for _, w := range tc.want {
					found = found || strings.Contains(msg, w)
				}
				if !found {
					t.Errorf("the row's error %q names none of %q", msg, tc.want)
				}
			})
		}
	})
}

func TestValueFreeMessages(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Duplicate entry 'O'Brien CNRY' for key 'email'", "Duplicate entry [value] for key 'email'"},
		{"Incorrect integer value: 'CNRY' for column `db`.`t`.`age` at row 1", "Incorrect integer value: [value] for column `db`.`t`.`age` at row 1"},
	} {
		if got := myEntry.ReplaceAllString(tc.in, "${1}[value] $2"); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}
