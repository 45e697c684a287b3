package httpx

import (
	"net/http"
	"time"
)

// Session cookie names. Under TLS the __Host- prefix makes browsers insist
// on Secure, Path=/ and no Domain, so no subdomain can plant or read it.
const (
	sessionCookie       = "sluice_session"
	secureSessionCookie = "__Host-sluice_session"
)

// SessionCookieName is the cookie the session lives in.
func SessionCookieName(tls bool) string {
	if tls {
		return secureSessionCookie
	}
	return sessionCookie
}

// SetSessionCookie sends the session token: HttpOnly so scripts cannot read
// it, SameSite=Lax so other sites' forms do not carry it, Secure under TLS.
func SetSessionCookie(w http.ResponseWriter, tls bool, token string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookieName(tls), Value: token, Path: "/", MaxAge: int(maxAge / time.Second),
		HttpOnly: true, Secure: tls, SameSite: http.SameSiteLaxMode,
	})
}

// ClearSessionCookie tells the browser to forget the session.
func ClearSessionCookie(w http.ResponseWriter, tls bool) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookieName(tls), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: tls, SameSite: http.SameSiteLaxMode,
	})
}

// SessionToken reads the session cookie of a request ("" when absent).
func SessionToken(r *http.Request, tls bool) string {
	c, err := r.Cookie(SessionCookieName(tls))
	if err != nil {
		return ""
	}
	return c.Value
}
