package bronze

import "fmt"

// The error types below are returned unwrapped by the validate and route
// steps, because the Lambda runtime reports the outermost error's type
// name and the state machine matches it in ErrorEquals. None is
// retryable: the object stays in bronze for a replay once the cause is
// fixed.

// ObjectKeyError means the event's key is not a bronze object key:
// outside bronze/landing/<table>/, or not a valid lake key.
type ObjectKeyError struct {
	Key string
	Msg string
}

func (e *ObjectKeyError) Error() string {
	return fmt.Sprintf("bronze: object key %q: %s", e.Key, e.Msg)
}

// UnknownTableError means a key or a request names a table that has no
// contract in the schemas folder: add a contract, then replay the object
// (it stays in bronze). Key is empty when no object is involved.
type UnknownTableError struct {
	Key   string
	Table string
	Err   error // from contract.Find: lists the known tables
}

func (e *UnknownTableError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("table %q: %v", e.Table, e.Err)
	}
	return fmt.Sprintf("bronze: object %q: table %q: %v", e.Key, e.Table, e.Err)
}

func (e *UnknownTableError) Unwrap() error { return e.Err }

// ObjectNotFoundError means the bronze object is gone and nothing says it
// was routed at the event's ETag: it was deleted by hand, or replaced and
// routed at another version.
type ObjectNotFoundError struct {
	Key  string
	ETag string
}

func (e *ObjectNotFoundError) Error() string {
	return fmt.Sprintf("bronze: object %q (ETag %q) is not in bronze and was never routed", e.Key, e.ETag)
}

// ObjectChangedError means the object was replaced (or deleted) while a
// step worked on the version it had opened, or a step was handed a
// result of another version: nothing derived from the old version is
// committed. The new version has an event of its own.
type ObjectChangedError struct {
	Key  string
	ETag string // the version worked on
	Now  string // the version there now, "" if gone
}

func (e *ObjectChangedError) Error() string {
	if e.Now == "" {
		return fmt.Sprintf("bronze: object %q (ETag %s) vanished while it was being processed", e.Key, e.ETag)
	}
	return fmt.Sprintf("bronze: object %q changed while it was being processed (ETag %s, now %s); its new version has its own event", e.Key, e.ETag, e.Now)
}

// ContractError means the table's configuration cannot be used: its DQDL
// ruleset fails to load, its schema file (_meta/tables/<table>/schema.json)
// is malformed, or its partition column has a type that the partition
// transform cannot take. It is
// not the object's fault, so the object stays in bronze: fix the
// contract, then replay.
type ContractError struct {
	Table string
	Msg   string
	Err   error
}

func (e *ContractError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("bronze: table %q: %s", e.Table, e.Msg)
	}
	return fmt.Sprintf("bronze: table %q: %s: %v", e.Table, e.Msg, e.Err)
}

func (e *ContractError) Unwrap() error { return e.Err }
