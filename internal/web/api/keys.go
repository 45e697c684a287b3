package api

import (
	"net/http"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// keysStatus answers the keyring's terms, rotations and how many stored
// secrets each term sealed. No key material is in it.
func (a *API) keysStatus(w http.ResponseWriter, r *http.Request) {
	st, err := a.Keyring.Status(r.Context())
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, st)
}

// rotateKeys adds a key term and enqueues the re-encryption of every
// stored secret; it answers 202 with the new rotation, whose progress GET
// /api/v1/keys shows.
func (a *API) rotateKeys(w http.ResponseWriter, r *http.Request) {
	p, c := principal(r), client(r)
	rot, err := a.Keyring.Rotate(r.Context(), audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP})
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusAccepted, rot)
}
