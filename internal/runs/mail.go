package runs

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/netguard"
	"github.com/sluice-dev/sluice/internal/secrets"
)

// Mailer sends alert e-mail through the instance's SMTP server with the
// standard library's net/smtp: STARTTLS (TLS 1.2 or newer, certificate
// checked) is required unless the server is on loopback, and the password
// is only sent over TLS or to loopback (net/smtp's PlainAuth refuses
// otherwise).
type Mailer struct {
	// Addr is host:port of the SMTP server (--smtp-addr).
	Addr string
	// From is the sender address (--smtp-from).
	From string
	// Username and Password authenticate with PLAIN when Username is set.
	Username string
	Password secrets.Value
	// TLS overrides the STARTTLS client configuration (tests trust their
	// own CA with it); ServerName and MinVersion are filled in.
	TLS *tls.Config
	// Now is the clock of the Date header (default time.Now).
	Now func() time.Time
}

// mailTimeout bounds one delivery: dial, dialogue and data.
const mailTimeout = time.Minute

// Send delivers one message to every address in to.
func (m *Mailer) Send(ctx context.Context, to []string, subject, body string) error {
	host, _, err := net.SplitHostPort(m.Addr)
	if err != nil {
		return permanent("smtp server %q: want host:port: %v", m.Addr, err)
	}
	loopback, _ := netguard.IsLoopbackAddr(m.Addr)
	msg, err := m.message(to, subject, body)
	if err != nil {
		return permanent("alert e-mail: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, mailTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return fmt.Errorf("smtp server %s: %w", m.Addr, err)
	}
	// net/smtp takes no context: the deadline and a watcher end a stuck
	// dialogue instead.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp server %s: %w", m.Addr, err)
	}
	defer c.Close()
	if err := c.Hello("sluice"); err != nil {
		return fmt.Errorf("smtp server %s: HELO: %w", m.Addr, err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if m.TLS != nil {
			cfg = m.TLS.Clone()
			cfg.MinVersion = max(cfg.MinVersion, tls.VersionTLS12)
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("smtp server %s: STARTTLS: %w", m.Addr, err)
		}
	} else if !loopback {
		return permanent("smtp server %s offers no STARTTLS: Sluice sends mail encrypted only (in clear only to a server on loopback)", m.Addr)
	}
	if m.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return permanent("smtp server %s offers no AUTH but --smtp-username is set", m.Addr)
		}
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password.Reveal(), host)); err != nil {
			return permanent("smtp server %s: authentication as %q failed: %v", m.Addr, m.Username, err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return fmt.Errorf("smtp server %s: MAIL FROM: %w", m.Addr, err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return fmt.Errorf("smtp server %s: RCPT TO %s: %w", m.Addr, rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp server %s: DATA: %w", m.Addr, err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp server %s: DATA: %w", m.Addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp server %s: DATA: %w", m.Addr, err)
	}
	// The message was accepted; a failed QUIT does not undo that.
	_ = c.Quit()
	return nil
}

// message builds the RFC 5322 message: UTF-8 text, quoted-printable, the
// subject Q-encoded, every header free of line breaks.
func (m *Mailer) message(to []string, subject, body string) ([]byte, error) {
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return nil, fmt.Errorf("sender %q: %v", m.From, err)
	}
	rcpts := make([]string, 0, len(to))
	for _, t := range to {
		a, err := mail.ParseAddress(t)
		if err != nil {
			return nil, fmt.Errorf("recipient %q: %v", t, err)
		}
		rcpts = append(rcpts, a.String())
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	domain := from.Address[strings.LastIndex(from.Address, "@")+1:]
	oneLine := strings.NewReplacer("\r", " ", "\n", " ")
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\n", from.String())
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(rcpts, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", oneLine.Replace(subject)))
	fmt.Fprintf(&b, "Date: %s\r\n", now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id), domain)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n")
	b.WriteString("Auto-Submitted: auto-generated\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	return []byte(b.String()), nil
}
