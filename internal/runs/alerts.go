package runs

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-dev/sluice/internal/netguard"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/store"
)

// Alert channels: each is its own job, so a webhook that answers does not
// send again when the e-mail is retried, and the other way round.
const (
	ChannelWebhook = "webhook"
	ChannelEmail   = "email"
)

// Webhook headers.
const (
	// HeaderSignature carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of
	// "<t>.<body>">" when the project set a webhook secret.
	HeaderSignature = "X-Sluice-Signature"
	// HeaderEvent names the event: run.failed or run.partially_failed.
	HeaderEvent = "X-Sluice-Event"
	// HeaderDelivery is the same for every attempt of one alert, so a
	// receiver can drop a repeat.
	HeaderDelivery = "X-Sluice-Delivery"
)

// maxErrorSummary bounds the run error an alert carries.
const maxErrorSummary = 500

// AlertArgs is the job that sends one failure alert of a run over one
// channel. It carries IDs only; the worker reads the rest.
type AlertArgs struct {
	RunID   string `json:"run_id"`
	Channel string `json:"channel"`
}

// Kind names the job in the queue.
func (AlertArgs) Kind() string { return "run_alert" }

// InsertOpts: a receiver that is down is tried again with River's
// backoff, for about half a day.
func (AlertArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 12} }

// alertsOn says whether a run that ended with status alerts under a.
func alertsOn(a project.Alerts, status string) bool {
	return a.Enabled && (status == store.RunFailed || status == store.RunPartiallyFailed) && slices.Contains(a.On, status)
}

// finishTx stores run's final status inside q's transaction with the
// alerts it calls for.
func (s *Service) finishTx(ctx context.Context, q *store.Q, run *store.Run) error {
	if err := q.FinishRun(ctx, run); err != nil {
		return err
	}
	return s.enqueueAlerts(ctx, q, run)
}

// enqueueAlerts enqueues, inside the transaction q that finishes run, the
// alerts the project's settings ask for, so they are sent once the
// finish commits, and never for a finish that rolled back.
func (s *Service) enqueueAlerts(ctx context.Context, q *store.Q, run *store.Run) error {
	if s.queue == nil || (run.Status != store.RunFailed && run.Status != store.RunPartiallyFailed) {
		return nil
	}
	pr, err := q.ProjectByID(ctx, run.ProjectID)
	if err != nil {
		return err
	}
	settings, err := project.ParseSettings(pr.Settings)
	if err != nil {
		return err
	}
	if !alertsOn(settings.Alerts, run.Status) {
		return nil
	}
	var channels []string
	if settings.Alerts.WebhookURL != "" {
		channels = append(channels, ChannelWebhook)
	}
	if len(settings.Alerts.Emails) > 0 {
		channels = append(channels, ChannelEmail)
	}
	for _, ch := range channels {
		if _, err := s.queue.InsertTx(ctx, q, AlertArgs{RunID: run.ID, Channel: ch}, nil); err != nil {
			return err
		}
	}
	return nil
}

// Alerter sends failure alerts: webhooks through each project's egress
// guard, e-mail through the instance's SMTP server.
type Alerter struct {
	st *store.Store
	// Policy is a project's egress policy (GuardedNetwork.Policy).
	Policy func(ctx context.Context, projectID string) (*netguard.EgressPolicy, error)
	// Mail sends e-mail; nil when the instance has no SMTP server.
	Mail *Mailer
	// BaseURL is the URL users reach Sluice at, for the run's link.
	BaseURL func() string
	// WebhookSecret replaces the stored webhook signing secret of a
	// project (tests); empty: none.
	WebhookSecret func(ctx context.Context, projectID string) (secrets.Value, error)
	// Now is the clock of signatures and mail dates (default time.Now).
	Now    func() time.Time
	log    *slog.Logger
	sealer Sealer
}

// NewAlerter builds the alerter of a store's projects.
func NewAlerter(st *store.Store, log *slog.Logger) *Alerter {
	if log == nil {
		log = slog.Default()
	}
	return &Alerter{st: st, log: log}
}

// Register adds the alert worker to a queue's workers.
func (a *Alerter) Register(w *river.Workers) { river.AddWorker(w, &AlertWorker{A: a}) }

// AlertWorker works AlertArgs.
type AlertWorker struct {
	river.WorkerDefaults[AlertArgs]
	A *Alerter
}

// Work sends the alert.
func (w *AlertWorker) Work(ctx context.Context, job *river.Job[AlertArgs]) error {
	err := w.A.Send(ctx, job.Args, strconv.FormatInt(job.ID, 10))
	var perm *permanentError
	if errors.As(err, &perm) {
		w.A.log.Error("runs: alert not sent", "run", job.Args.RunID, "channel", job.Args.Channel, "err", err)
		return river.JobCancel(err)
	}
	if err != nil {
		w.A.log.Warn("runs: alert not sent yet; retrying", "run", job.Args.RunID, "channel", job.Args.Channel, "attempt", job.Attempt, "err", err)
	}
	return err
}

// Timeout bounds one attempt.
func (w *AlertWorker) Timeout(*river.Job[AlertArgs]) time.Duration { return 2 * time.Minute }

// permanentError is an alert that trying again cannot send: the queue
// stops retrying it.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(format string, args ...any) error {
	return &permanentError{fmt.Errorf(format, args...)}
}

// IsPermanent says whether an error of Send is one that retrying cannot
// fix (a refused destination, a missing SMTP server, a 4xx answer).
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// AlertRecords are a run's counters in an alert.
type AlertRecords struct {
	Read      int64 `json:"read"`
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
	Skipped   int64 `json:"skipped"`
}

// AlertRef names a project, pipe or flow in an alert.
type AlertRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Alert is what a webhook receives (as JSON) and an e-mail tells. It
// holds no record data: counters and the run's error summary only.
type Alert struct {
	Event      string       `json:"event"`
	Project    AlertRef     `json:"project"`
	Pipe       AlertRef     `json:"pipe"`
	Flow       AlertRef     `json:"flow"`
	RunID      string       `json:"run_id"`
	Status     string       `json:"status"`
	Trigger    string       `json:"trigger"`
	StartedAt  *time.Time   `json:"started_at"`
	FinishedAt *time.Time   `json:"finished_at"`
	Records    AlertRecords `json:"records"`
	Error      string       `json:"error"`
	Link       string       `json:"link"`
}

// Send sends the alert of args now; delivery names it for receivers that
// drop repeats. A run deleted meanwhile, or alerts turned off for its
// status meanwhile, sends nothing.
func (a *Alerter) Send(ctx context.Context, args AlertArgs, delivery string) error {
	r := a.st.Reader()
	run, err := r.RunByID(ctx, "", args.RunID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	pr, err := r.ProjectByID(ctx, run.ProjectID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	settings, err := project.ParseSettings(pr.Settings)
	if err != nil {
		return err
	}
	if !alertsOn(settings.Alerts, run.Status) {
		return nil
	}
	al := Alert{Event: "run." + run.Status, Project: AlertRef{ID: pr.ID, Name: pr.Name}, RunID: run.ID, Status: run.Status,
		Trigger: run.Trigger, StartedAt: run.StartedAt, FinishedAt: run.FinishedAt,
		Records: AlertRecords{Read: run.Read, Succeeded: run.Succeeded, Failed: run.Failed, Skipped: run.Skipped},
		Error:   truncate(run.Error, maxErrorSummary), Pipe: AlertRef{ID: run.PipeID}, Flow: AlertRef{ID: run.FlowID}}
	if p, err := r.PipeByID(ctx, run.ProjectID, run.PipeID); err == nil {
		al.Pipe.Name = p.Name
	}
	if f, err := r.FlowByID(ctx, run.ProjectID, run.PipeID, run.FlowID); err == nil {
		al.Flow.Name = f.Name
	}
	if a.BaseURL != nil {
		al.Link = strings.TrimRight(a.BaseURL(), "/") + "/api/v1/projects/" + url.PathEscape(pr.ID) + "/runs/" + url.PathEscape(run.ID)
	}
	switch args.Channel {
	case ChannelWebhook:
		if settings.Alerts.WebhookURL == "" {
			return nil
		}
		return a.webhook(ctx, pr.ID, settings.Alerts.WebhookURL, al, delivery)
	case ChannelEmail:
		if len(settings.Alerts.Emails) == 0 {
			return nil
		}
		if a.Mail == nil {
			return permanent("alert e-mail for run %s not sent: this instance has no SMTP server; start it with --smtp-addr and --smtp-from", run.ID)
		}
		subject, body := mailOf(al)
		return a.Mail.Send(ctx, settings.Alerts.Emails, subject, body)
	}
	return permanent("unknown alert channel %q", args.Channel)
}

func (a *Alerter) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// webhook POSTs the alert as JSON through the project's egress guard.
func (a *Alerter) webhook(ctx context.Context, projectID, target string, al Alert, delivery string) error {
	where := redactURL(target)
	if a.Policy == nil {
		return permanent("webhook %s: this instance has no egress policy for alerts", where)
	}
	policy, err := a.Policy(ctx, projectID)
	if err != nil {
		return err
	}
	body, err := json.Marshal(al)
	if err != nil {
		return permanent("webhook %s: encode the alert: %v", where, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return permanent("webhook %s: %v", where, errors.Unwrap(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Sluice-Alerts/1")
	req.Header.Set(HeaderEvent, al.Event)
	req.Header.Set(HeaderDelivery, delivery)
	secretOf := a.storedSecret
	if a.WebhookSecret != nil {
		secretOf = a.WebhookSecret
	}
	secret, err := secretOf(ctx, projectID)
	if err != nil {
		return err
	}
	if !secret.IsZero() {
		req.Header.Set(HeaderSignature, Sign(secret.Reveal(), a.now(), body))
	}
	resp, err := policy.HTTPClient(nil, 30*time.Second).Do(req)
	if err != nil {
		// A url.Error quotes the whole URL, whose path or query may hold a
		// token (chat webhooks do): say only where it went.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		var eg *netguard.EgressError
		if errors.As(err, &eg) {
			return permanent("webhook %s: %v", where, eg)
		}
		return fmt.Errorf("webhook %s: %v", where, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("webhook %s answered %s", where, resp.Status)
	default:
		return permanent("webhook %s answered %s: check the webhook URL in the project's alert settings", where, resp.Status)
	}
}

// Sign is the value of HeaderSignature for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>". A
// receiver recomputes it with the shared secret and refuses old t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// redactURL keeps the scheme and host of a URL: its path and query may
// hold a token.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "(unreadable URL)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// mailOf is the subject and plain-text body of an alert e-mail.
func mailOf(al Alert) (subject, body string) {
	what := map[string]string{store.RunFailed: "failed", store.RunPartiallyFailed: "partially failed"}[al.Status]
	subject = fmt.Sprintf("[Sluice] Run %s: %s / %s / %s", what, al.Project.Name, orID(al.Pipe), orID(al.Flow))
	var b strings.Builder
	fmt.Fprintf(&b, "A run %s.\n\n", what)
	fmt.Fprintf(&b, "Project:  %s\nPipe:     %s\nFlow:     %s\nRun:      %s\nTrigger:  %s\n", al.Project.Name, orID(al.Pipe), orID(al.Flow), al.RunID, al.Trigger)
	if al.StartedAt != nil {
		fmt.Fprintf(&b, "Started:  %s\n", al.StartedAt.UTC().Format(time.RFC3339))
	}
	if al.FinishedAt != nil {
		fmt.Fprintf(&b, "Finished: %s\n", al.FinishedAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "Records:  %d read, %d succeeded, %d failed, %d skipped\n", al.Records.Read, al.Records.Succeeded, al.Records.Failed, al.Records.Skipped)
	if al.Error != "" {
		fmt.Fprintf(&b, "Error:    %s\n", al.Error)
	}
	if al.Link != "" {
		fmt.Fprintf(&b, "\nThe run, with its failed records: %s\n", al.Link)
	}
	b.WriteString("\nYou get this because the project's failure alerts list your address.\n")
	return subject, b.String()
}

func orID(r AlertRef) string {
	if r.Name != "" {
		return r.Name
	}
	return r.ID
}
