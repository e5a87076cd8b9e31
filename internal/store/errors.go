package store

import "fmt"

// StoreUnavailableError reports that the object store could not be reached
// or asked the caller to back off: throttling, a 5xx answer, a timeout or a
// broken connection, after the backend's own retries were used up. The
// operation may succeed when tried again later; the state machine retries
// errors of this type (ErrorEquals: "StoreUnavailableError").
//
// It is always returned as a *StoreUnavailableError; errors.As finds it
// through any wrapping.
type StoreUnavailableError struct {
	Op  string // the Store method: "put", "get", "stat", "delete", "list"
	Key string // the key or list prefix
	Err error  // the backend's error
}

// Error implements error.
func (e *StoreUnavailableError) Error() string {
	return fmt.Sprintf("store: %s %q: store unavailable: %v", e.Op, e.Key, e.Err)
}

// Unwrap returns the backend's error.
func (e *StoreUnavailableError) Unwrap() error { return e.Err }

// StoreFullError reports that a write failed because the storage under the
// store is full (ENOSPC) or over its quota (EDQUOT): a lake in a local
// folder whose disk filled up. Nothing was published: the object at the key
// is unchanged. The state machine does not retry it, since a full disk does
// not empty itself within a retry's backoff; it fails the step with this
// name (ErrorEquals: "StoreFullError"), the step's input stays where it
// was, and a rerun once space is freed finishes the work.
//
// It is always returned as a *StoreFullError; errors.As finds it through
// any wrapping.
type StoreFullError struct {
	Op  string // the Store method: "put"
	Key string
	Err error // the file system's error
}

// Error implements error.
func (e *StoreFullError) Error() string {
	return fmt.Sprintf("store: %s %q: no space left in the store: %v", e.Op, e.Key, e.Err)
}

// Unwrap returns the file system's error.
func (e *StoreFullError) Unwrap() error { return e.Err }
