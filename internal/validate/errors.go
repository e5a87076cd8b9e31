package validate

import (
	"errors"
	"fmt"

	"github.com/medallionlake/lake/internal/store"
)

// The error types below are returned unwrapped by Validate (and by
// route.Route), because the Lambda runtime reports the outermost error's
// type name and the state machine matches it in ErrorEquals. errors.As
// finds them through any wrapping a caller adds. Transient storage errors
// surface as *store.StoreUnavailableError, also unwrapped; every other
// error is wrapped with context and is a bug or a broken deployment.

// ObjectKeyError means the event's key is not a bronze object key:
// outside bronze/landing/<table>/, or not a valid lake key. Not retryable.
type ObjectKeyError struct {
	Key string
	Msg string
}

func (e *ObjectKeyError) Error() string {
	return fmt.Sprintf("validate: object key %q: %s", e.Key, e.Msg)
}

// UnknownTableError means the key names a table that has no contract in
// the schemas folder. Not retryable: add a contract, then replay the
// object (it stays in bronze).
type UnknownTableError struct {
	Key   string
	Table string
	Err   error // from contract.Find: lists the known tables
}

func (e *UnknownTableError) Error() string {
	return fmt.Sprintf("validate: object %q: table %q: %v", e.Key, e.Table, e.Err)
}

func (e *UnknownTableError) Unwrap() error { return e.Err }

// ObjectNotFoundError means the bronze object is gone and no route record
// says it was routed at the event's ETag: it was deleted by hand, or
// replaced and routed at another version. Not retryable.
type ObjectNotFoundError struct {
	Key  string
	ETag string
}

func (e *ObjectNotFoundError) Error() string {
	return fmt.Sprintf("validate: object %q (ETag %q) is not in bronze and was never routed", e.Key, e.ETag)
}

// ContractError means the table's configuration cannot be used: its DQDL
// ruleset fails to load, its schema file (_meta/tables/<table>/schema.json)
// is malformed, or its partition column has a type that has no date. It
// is not the object's fault, so the object stays in bronze. Not
// retryable: fix the contract, then replay.
type ContractError struct {
	Table string
	Msg   string
	Err   error
}

func (e *ContractError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("validate: table %q: %s", e.Table, e.Msg)
	}
	return fmt.Sprintf("validate: table %q: %s: %v", e.Table, e.Msg, e.Err)
}

func (e *ContractError) Unwrap() error { return e.Err }

// StoreError returns err's *store.StoreUnavailableError unwrapped, so that
// the state machine sees its type name and retries, and otherwise err
// wrapped with what the step was doing.
func StoreError(err error, format string, args ...any) error {
	var su *store.StoreUnavailableError
	if errors.As(err, &su) {
		return su
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
