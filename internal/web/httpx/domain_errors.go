package httpx

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/connection"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/project"
)

// domainError maps the errors of the feature packages to answers. It is
// part of WriteError, the one place errors become status codes; nil means
// the error is not one of them.
func domainError(err error) *Error {
	var invalid *account.InvalidInputError
	var throttled *account.ThrottledError
	var problems *project.ValidationError
	var connProblems *connection.ValidationError
	var pipeProblems *pipeline.ValidationError
	switch {
	case errors.Is(err, connection.ErrBadState):
		return &Error{Status: http.StatusBadRequest, Code: "invalid_state", Message: connection.ErrBadState.Error()}
	case errors.Is(err, connection.ErrNotConsentable):
		return &Error{Status: http.StatusConflict, Code: "not_consentable", Message: connection.ErrNotConsentable.Error()}
	case errors.Is(err, connection.ErrConsentRefused):
		return &Error{Status: http.StatusBadRequest, Code: "consent_refused", Message: err.Error()}
	case errors.Is(err, connection.ErrConsentRoleLost):
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: connection.ErrConsentRoleLost.Error()}
	case errors.Is(err, connection.ErrConsentFailed):
		return &Error{Status: http.StatusBadGateway, Code: "consent_failed", Message: err.Error()}
	case errors.As(err, &connProblems):
		details := make([]Detail, len(connProblems.Problems))
		for i, p := range connProblems.Problems {
			details[i] = Detail{Field: p.Field, Message: p.Message}
		}
		return Unprocessable("invalid_field", connProblems.Error(), details...)
	case errors.As(err, &pipeProblems):
		// A flow document's problems carry their line and column when the
		// definition was YAML text; the detail's message says where.
		details := make([]Detail, len(pipeProblems.Problems))
		for i, p := range pipeProblems.Problems {
			msg := p.Message
			if p.Line > 0 {
				msg = fmt.Sprintf("line %d, column %d: %s", p.Line, p.Column, p.Message)
			}
			details[i] = Detail{Field: p.Path, Message: msg}
		}
		return Unprocessable("invalid_field", pipeProblems.Error(), details...)
	case errors.Is(err, pipeline.ErrConsoleLogForbidden):
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: pipeline.ErrConsoleLogForbidden.Error(),
			Details: []Detail{{Field: "console_log", Message: "owner and administrators only"}}}
	case errors.As(err, &problems):
		details := make([]Detail, len(problems.Problems))
		for i, p := range problems.Problems {
			details[i] = Detail{Field: p.Field, Message: p.Message}
		}
		return Unprocessable("invalid_field", problems.Error(), details...)
	case errors.Is(err, project.ErrOwnerProtected):
		return &Error{Status: http.StatusConflict, Code: "owner_protected", Message: project.ErrOwnerProtected.Error()}
	case errors.Is(err, project.ErrNoAccess):
		return &Error{Status: http.StatusConflict, Code: "not_a_member", Message: project.ErrNoAccess.Error(),
			Details: []Detail{{Field: "user_id", Message: "has no access to the project"}}}
	case errors.Is(err, project.ErrRoleChanged):
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: project.ErrRoleChanged.Error()}
	case errors.Is(err, project.ErrPlanChange):
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: project.ErrPlanChange.Error(),
			Details: []Detail{{Field: "plan_id", Message: "instance administrators only"}}}
	case errors.Is(err, project.ErrAlreadyMember):
		return &Error{Status: http.StatusConflict, Code: "already_member", Message: project.ErrAlreadyMember.Error()}
	case errors.As(err, &invalid):
		return Unprocessable("invalid_field", invalid.Error(), Detail{Field: invalid.Field, Message: invalid.Message})
	case errors.As(err, &throttled):
		e := TooManyRequests(throttled.Error(), throttled.RetryAfter)
		e.Code = "too_many_attempts"
		return e
	case errors.Is(err, account.ErrInvalidCredentials):
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_credentials", Message: err.Error()}
	case errors.Is(err, account.ErrTOTPRequired):
		return &Error{Status: http.StatusUnauthorized, Code: "totp_required", Message: account.ErrTOTPRequired.Error(),
			Details: []Detail{{Field: "totp", Message: "required"}}}
	case errors.Is(err, account.ErrInvalidTOTP):
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_totp", Message: account.ErrInvalidTOTP.Error(),
			Details: []Detail{{Field: "totp", Message: "wrong, expired or already used"}}}
	case errors.Is(err, account.ErrUnauthenticated):
		return &Error{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: account.ErrUnauthenticated.Error()}
	case errors.Is(err, account.ErrAccountDisabled):
		return &Error{Status: http.StatusForbidden, Code: "account_disabled", Message: account.ErrAccountDisabled.Error()}
	case errors.Is(err, account.ErrForbidden):
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: account.ErrForbidden.Error()}
	case errors.Is(err, account.ErrSetupDone):
		return &Error{Status: http.StatusConflict, Code: "setup_complete", Message: account.ErrSetupDone.Error()}
	case errors.Is(err, account.ErrSetupToken):
		return &Error{Status: http.StatusForbidden, Code: "invalid_setup_token", Message: account.ErrSetupToken.Error(),
			Details: []Detail{{Field: "token", Message: "wrong or missing"}}}
	case errors.Is(err, account.ErrWrongPassword):
		return &Error{Status: http.StatusForbidden, Code: "wrong_password", Message: account.ErrWrongPassword.Error(),
			Details: []Detail{{Field: "password", Message: "does not match"}}}
	case errors.Is(err, account.ErrLastAdmin):
		return &Error{Status: http.StatusConflict, Code: "last_admin", Message: account.ErrLastAdmin.Error()}
	case errors.Is(err, account.ErrInvalidInvitation):
		return &Error{Status: http.StatusForbidden, Code: "invalid_invitation", Message: account.ErrInvalidInvitation.Error(),
			Details: []Detail{{Field: "token", Message: "invalid, expired or already used"}}}
	case errors.Is(err, account.ErrInvitationAccepted):
		return &Error{Status: http.StatusConflict, Code: "invitation_accepted", Message: account.ErrInvitationAccepted.Error()}
	case errors.Is(err, account.ErrTOTPState):
		return &Error{Status: http.StatusConflict, Code: "totp_state", Message: err.Error()}
	}
	return nil
}
