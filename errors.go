// Package opsguard holds what every part of opsguard shares: the few kinds
// of error the API maps to HTTP statuses. The domain lives in the packages
// below it (ledger, auth, control, …).
package opsguard

import (
	"errors"
	"fmt"
)

// Code is a kind of error, mapped to an HTTP status by web and to an exit
// status by the CLI.
type Code string

// The error kinds.
const (
	EInvalid         Code = "invalid"         // the input is wrong: 400
	EUnauthenticated Code = "unauthenticated" // no or bad credentials: 401
	EForbidden       Code = "forbidden"       // not allowed for this actor: 403
	ENotFound        Code = "not_found"       // 404
	EConflict        Code = "conflict"        // clashes with the current state: 409
	ERateLimited     Code = "rate_limited"    // too many attempts: 429
	ETooLarge        Code = "too_large"       // the request body is larger than allowed: 413
	EInternal        Code = "internal"        // anything else: 500
)

// Error is an error of a known kind, with a message fit for the user and
// optional details (field names, limits).
type Error struct {
	Code    Code
	Message string
	Details map[string]any
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error of the given kind.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the kind of err, EInternal when it has none.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the user-facing message of err: the *Error's own
// message, or a generic one for internal errors so that nothing internal
// leaks to a client.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
