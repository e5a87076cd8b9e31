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
