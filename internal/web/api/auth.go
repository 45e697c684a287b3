package api

import (
	"net/http"

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

type loginAnswer struct {
	User      userView `json:"user"`
	CSRFToken string   `json:"csrf_token"`
}

// startSession sets the cookie of a new session and answers with the user
// and the CSRF token.
func (a *API) startSession(w http.ResponseWriter, status int, res *account.LoginResult) {
	httpx.SetSessionCookie(w, a.TLS, res.Token, a.SessionMax)
	httpx.WriteJSON(w, status, loginAnswer{User: viewUser(res.User), CSRFToken: res.CSRFToken})
}

func (a *API) setup(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token    string `json:"token"`
		Email    string `json:"email"`
		Password string `json:"password"`
		Name     string `json:"name"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	res, err := a.Accounts.Setup(r.Context(), account.SetupRequest{Token: in.Token, Email: in.Email,
		Password: in.Password, Name: in.Name, Client: client(r)})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a.startSession(w, http.StatusCreated, res)
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		TOTP     string `json:"totp"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	res, err := a.Accounts.Login(r.Context(), account.LoginRequest{Email: in.Email, Password: in.Password,
		TOTP: in.TOTP, Client: client(r)})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	a.startSession(w, http.StatusOK, res)
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	if principal(r).Session == nil {
		// Answering 204 would let a script believe its credential is gone.
		httpx.WriteError(w, r, httpx.BadRequest("not_a_session",
			"this request carries an API key, not a session: a key is not logged out but revoked, with DELETE /api/v1/me/api-keys/{id}"))
		return
	}
	if err := a.Accounts.Logout(r.Context(), principal(r), client(r)); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.ClearSessionCookie(w, a.TLS)
	w.WriteHeader(http.StatusNoContent)
}
