package runs_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/sluice-dev/sluice/internal/connection"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/queue"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// alertWorld is a world whose runs service enqueues on a real
// (insert-only) queue, with an alerter.
type alertWorld struct {
	*world
	a *runs.Alerter
}

func newAlertWorld(t *testing.T, st *store.Store) *alertWorld {
	t.Helper()
	w := newWorld(t, st)
	a := runs.NewAlerter(st, nil)
	a.Policy = connection.NewGuardedNetwork(st, nil, nil).Policy
	a.BaseURL = func() string { return "https://sluice.example.com" }
	q, err := queue.New(st, queue.Options{Register: func(rw *river.Workers) { w.s.Register(rw); a.Register(rw) }})
	if err != nil {
		t.Fatal(err)
	}
	w.s.SetQueue(q)
	return &alertWorld{world: w, a: a}
}

func (w *alertWorld) settings(t *testing.T, alerts project.Alerts, egress ...string) {
	t.Helper()
	s := project.DefaultSettings()
	s.Alerts = alerts
	s.EgressAllowlist = egress
	raw, _ := json.Marshal(s)
	if _, err := w.st.WriteDB().Exec(`UPDATE projects SET settings = $1 WHERE id = $2`, string(raw), w.pipe.ProjectID); err != nil {
		t.Fatal(err)
	}
}

// alertJobs are the alert jobs enqueued for run id.
func alertJobs(t *testing.T, st *store.Store, id string) []runs.AlertArgs {
	t.Helper()
	// River keeps args as JSONB on SQLite too: json() reads it as text.
	query := `SELECT args::text FROM river_job WHERE kind = 'run_alert' ORDER BY id`
	if st.Dialect() == store.SQLite {
		query = `SELECT json(args) FROM river_job WHERE kind = 'run_alert' ORDER BY id`
	}
	rows, err := st.WriteDB().Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []runs.AlertArgs
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var a runs.AlertArgs
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		if a.RunID == id {
			out = append(out, a)
		}
	}
	return out
}

const partial = `{"id":1,"total":1}
{"id":"b","total":"x"}
`

type hook struct {
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies, h.heads = append(h.bodies, b), append(h.heads, r.Header.Clone())
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *hook) count() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.bodies) }

func TestAlertWebhook(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newAlertWorld(t, st)
		h := &hook{}
		srv := httptest.NewServer(h)
		defer srv.Close()
		now := time.Date(2026, time.June, 1, 12, 0, 0, 0, time.UTC)
		w.a.Now = func() time.Time { return now }
		w.a.WebhookSecret = func(context.Context, string) (secrets.Value, error) { return secrets.NewValue("hook-secret"), nil }
		w.settings(t, project.Alerts{Enabled: true, On: []string{"partially_failed"}, WebhookURL: srv.URL + "/hooks/T0K3N?x=1"}, "127.0.0.0/8")

		f := w.flow(t, "orders", fmt.Sprintf(doc, "orders"))
		w.file(t, "in.ndjson", partial)
		run := w.run(t, f)
		if run.Status != store.RunPartiallyFailed {
			t.Fatalf("run %+v", run)
		}
		jobs := alertJobs(t, st, run.ID)
		if len(jobs) != 1 || jobs[0].Channel != runs.ChannelWebhook {
			t.Fatalf("alert jobs %+v, want one webhook job", jobs)
		}
		if err := w.a.Send(ctx, jobs[0], "42"); err != nil {
			t.Fatalf("send: %v", err)
		}
		if h.count() != 1 {
			t.Fatalf("%d webhook calls, want 1", h.count())
		}
		body, head := h.bodies[0], h.heads[0]
		if want := runs.Sign("hook-secret", now, body); head.Get(runs.HeaderSignature) != want {
			t.Errorf("signature %q, want %q", head.Get(runs.HeaderSignature), want)
		}
		if head.Get(runs.HeaderEvent) != "run.partially_failed" || head.Get(runs.HeaderDelivery) != "42" || head.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", head)
		}
		var got runs.Alert
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if got.RunID != run.ID || got.Status != store.RunPartiallyFailed || got.Project.Name != "Shop" || got.Pipe.Name != "files" ||
			got.Flow.Name != "orders" || got.Flow.ID != f.ID || got.Records != (runs.AlertRecords{Read: 2, Succeeded: 1, Failed: 1}) ||
			got.Error != "1 of 2 records failed" || got.Trigger != store.TriggerManual ||
			got.Link != "https://sluice.example.com/api/v1/projects/"+f.ProjectID+"/runs/"+run.ID {
			t.Errorf("alert %+v", got)
		}
		// No record data: the failed record's values appear nowhere.
		if strings.Contains(string(body), `"x"`) || strings.Contains(string(body), "total") {
			t.Errorf("the alert carries record data: %s", body)
		}

		// A failed run alerts only if "failed" is in on.
		w.file(t, "in.ndjson", `{"id":1,"total":"x"}`+"\n")
		if r := w.run(t, f); r.Status != store.RunFailed || len(alertJobs(t, st, r.ID)) != 0 {
			t.Errorf("failed run %s with on=[partially_failed]: %d alert jobs", r.Status, len(alertJobs(t, st, r.ID)))
		}
		// Turned off meanwhile: the job sends nothing.
		w.settings(t, project.Alerts{Enabled: false, On: []string{"partially_failed"}, WebhookURL: srv.URL}, "127.0.0.0/8")
		if err := w.a.Send(ctx, jobs[0], "42"); err != nil || h.count() != 1 {
			t.Errorf("send after alerts were turned off: %v, %d calls", err, h.count())
		}
		w.file(t, "in.ndjson", partial)
		if r := w.run(t, f); len(alertJobs(t, st, r.ID)) != 0 {
			t.Errorf("alerts disabled: %d alert jobs", len(alertJobs(t, st, r.ID)))
		}
		// A completed run never alerts.
		w.settings(t, project.Alerts{Enabled: true, On: []string{"failed", "partially_failed"}, WebhookURL: srv.URL}, "127.0.0.0/8")
		w.file(t, "in.ndjson", `{"id":1,"total":1}`+"\n")
		if r := w.run(t, f); r.Status != store.RunCompleted || len(alertJobs(t, st, r.ID)) != 0 {
			t.Errorf("completed run: %d alert jobs", len(alertJobs(t, st, r.ID)))
		}
	})
}

func TestAlertWebhookRefused(t *testing.T) {
	st := storetest.Open(t, store.SQLite, store.Options{})
	ctx := context.Background()
	w := newAlertWorld(t, st)
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	// https passes validation for any host; the guard refuses loopback
	// when no allowlist names it.
	target := strings.Replace(srv.URL, "http://", "https://", 1) + "/hooks/S3CR3T-TOKEN"
	w.settings(t, project.Alerts{Enabled: true, On: []string{"failed"}, WebhookURL: target})
	f := w.flow(t, "orders", fmt.Sprintf(doc, "orders"))
	r := w.run(t, f) // no input file: the run fails
	jobs := alertJobs(t, st, r.ID)
	if r.Status != store.RunFailed || len(jobs) != 1 {
		t.Fatalf("run %s, jobs %+v", r.Status, jobs)
	}
	err := w.a.Send(ctx, jobs[0], "1")
	if err == nil || !runs.IsPermanent(err) || !strings.Contains(err.Error(), "egress") || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("send to a refused address: %v", err)
	}
	if strings.Contains(err.Error(), "S3CR3T") {
		t.Errorf("the error shows the URL's token: %v", err)
	}
	if h.count() != 0 {
		t.Errorf("the refused webhook was called %d times", h.count())
	}
	// The worker ends the job (cancelled: no retry) with the reason.
	wk := &runs.AlertWorker{A: w.a}
	err = wk.Work(ctx, &river.Job[runs.AlertArgs]{JobRow: &rivertype.JobRow{ID: 1, Attempt: 1}, Args: jobs[0]})
	var cancel *river.JobCancelError
	if !errors.As(err, &cancel) || !strings.Contains(err.Error(), "egress") {
		t.Errorf("worker: %v, want a JobCancel with the egress reason", err)
	}
}

// mailbox is a loopback SMTP server that keeps what it receives.
type mailbox struct {
	mu    sync.Mutex
	msgs  []mail
	auths []string
}

type mail struct {
	from string
	to   []string
	data string
}

type mailSession struct {
	box *mailbox
	m   mail
}

func (b *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{box: b}, nil }

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "alerts" || pass != "mail-pw" {
			return errors.New("bad credentials")
		}
		s.box.mu.Lock()
		s.box.auths = append(s.box.auths, user)
		s.box.mu.Unlock()
		return nil
	}), nil
}
func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error { s.m.from = from; return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.m.to = append(s.m.to, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.data = string(b)
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, s.m)
	s.box.mu.Unlock()
	return nil
}
func (s *mailSession) Reset()        { s.m = mail{} }
func (s *mailSession) Logout() error { return nil }

// startMailbox serves SMTP on a loopback port, with STARTTLS when tlsCfg
// is set.
func startMailbox(t *testing.T, tlsCfg *tls.Config) (*mailbox, string) {
	t.Helper()
	box := &mailbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	srv.TLSConfig = tlsCfg
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return box, ln.Addr().String()
}

func TestAlertEmail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := newAlertWorld(t, st)
		box, addr := startMailbox(t, nil)
		w.a.Mail = &runs.Mailer{Addr: addr, From: "sluice@example.com"}
		w.settings(t, project.Alerts{Enabled: true, Emails: []string{"ops@example.com", "dev@example.com"}, On: []string{"failed", "partially_failed"}})
		f := w.flow(t, "orders", fmt.Sprintf(doc, "orders"))
		w.file(t, "in.ndjson", partial)
		r := w.run(t, f)
		jobs := alertJobs(t, st, r.ID)
		if len(jobs) != 1 || jobs[0].Channel != runs.ChannelEmail {
			t.Fatalf("alert jobs %+v, want one e-mail job", jobs)
		}
		if err := w.a.Send(ctx, jobs[0], "1"); err != nil {
			t.Fatalf("send: %v", err)
		}
		box.mu.Lock()
		defer box.mu.Unlock()
		if len(box.msgs) != 1 {
			t.Fatalf("%d messages, want 1", len(box.msgs))
		}
		m := box.msgs[0]
		if m.from != "sluice@example.com" || strings.Join(m.to, ",") != "ops@example.com,dev@example.com" {
			t.Errorf("envelope %q → %v", m.from, m.to)
		}
		for _, want := range []string{"Subject: [Sluice] Run partially failed: Shop / files / orders", "To: <ops@example.com>, <dev@example.com>",
			r.ID, "2 read, 1 succeeded, 1 failed, 0 skipped", "Auto-Submitted: auto-generated"} {
			if !strings.Contains(m.data, want) {
				t.Errorf("message lacks %q:\n%s", want, m.data)
			}
		}
	})
}

// TestAlertEmailTLS: with a server that offers STARTTLS, the mailer
// encrypts and logs in; to a non-loopback server without STARTTLS it
// refuses (tested with the loopback rule off through a host name).
func TestAlertEmailTLS(t *testing.T) {
	st := storetest.Open(t, store.SQLite, store.Options{})
	ctx := context.Background()
	w := newAlertWorld(t, st)
	cert, pool := selfSignedCert(t)
	box, addr := startMailbox(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	w.a.Mail = &runs.Mailer{Addr: addr, From: "sluice@example.com", Username: "alerts", Password: secrets.NewValue("mail-pw"),
		TLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	w.settings(t, project.Alerts{Enabled: true, Emails: []string{"ops@example.com"}, On: []string{"failed"}})
	f := w.flow(t, "orders", fmt.Sprintf(doc, "orders"))
	r := w.run(t, f)
	jobs := alertJobs(t, st, r.ID)
	if len(jobs) != 1 {
		t.Fatalf("jobs %+v", jobs)
	}
	if err := w.a.Send(ctx, jobs[0], "1"); err != nil {
		t.Fatalf("send: %v", err)
	}
	box.mu.Lock()
	n, auths := len(box.msgs), strings.Join(box.auths, ",")
	box.mu.Unlock()
	if n != 1 || auths != "alerts" {
		t.Errorf("%d messages, logins %q", n, auths)
	}

	// A certificate the mailer does not trust: nothing is sent.
	w.a.Mail.TLS = nil
	if err := w.a.Send(ctx, jobs[0], "1"); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("untrusted certificate: %v", err)
	}
	// No SMTP server configured: the job ends with a clear reason.
	w.a.Mail = nil
	if err := w.a.Send(ctx, jobs[0], "1"); err == nil || !runs.IsPermanent(err) || !strings.Contains(err.Error(), "--smtp-addr") {
		t.Errorf("no SMTP server: %v", err)
	}
}

func selfSignedCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// TestAlertWebhookAnswers: 2xx is sent; 408, 429 and 5xx are retried;
// any other answer ends the job.
func TestAlertWebhookAnswers(t *testing.T) {
	st := storetest.Open(t, store.SQLite, store.Options{})
	ctx := context.Background()
	w := newAlertWorld(t, st)
	var status int
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { rw.WriteHeader(status) }))
	defer srv.Close()
	w.settings(t, project.Alerts{Enabled: true, On: []string{"failed"}, WebhookURL: srv.URL + "/hook/T0K3N"}, "127.0.0.0/8")
	r := w.run(t, w.flow(t, "orders", fmt.Sprintf(doc, "orders")))
	jobs := alertJobs(t, st, r.ID)
	if len(jobs) != 1 {
		t.Fatalf("jobs %+v", jobs)
	}
	for _, tc := range []struct {
		status          int
		sent, permanent bool
	}{
		{200, true, false}, {202, true, false}, {408, false, false}, {429, false, false}, {500, false, false}, {503, false, false},
		{400, false, true}, {404, false, true}, {410, false, true}, {301, false, true},
	} {
		status = tc.status
		err := w.a.Send(ctx, jobs[0], "1")
		if (err == nil) != tc.sent || runs.IsPermanent(err) != tc.permanent {
			t.Errorf("answer %d: %v (permanent %v)", tc.status, err, runs.IsPermanent(err))
		}
		if err != nil && (!strings.Contains(err.Error(), strconv.Itoa(tc.status)) || strings.Contains(err.Error(), "T0K3N")) {
			t.Errorf("answer %d: error %q should name the status and not the URL's token", tc.status, err)
		}
	}
}
