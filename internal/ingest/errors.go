package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
)

// The error types below are returned unwrapped by Run, Plan, Extract and
// Commit, because the Lambda runtime reports the outermost error's type
// name and the state machine matches it in ErrorEquals. errors.As finds
// them through any wrapping a caller adds.

// SourceUnavailableError means the source database could not be used right
// now: it is unreachable, refused the login (bad password, no such role,
// too many connections), was shutting down, lost the connection, or
// cancelled the read for a conflict with recovery on a standby. The
// watermark is unchanged; retrying later may succeed.
type SourceUnavailableError struct {
	Table string
	Op    string // what ingest was doing: "connect", "extract", ...
	Err   error
}

func (e *SourceUnavailableError) Error() string {
	return fmt.Sprintf("ingest %s: %s: source unavailable (watermark unchanged; retry later): %v", e.Table, e.Op, e.Err)
}

func (e *SourceUnavailableError) Unwrap() error { return e.Err }

// ColumnError means the contract names a column the source table lacks, or
// one whose type cannot serve its role: the cursor must be timestamp or
// timestamptz, and a primary-key column must exist. Not retryable: fix the
// contract or the table.
type ColumnError struct {
	Table  string // lake table name
	Source string // schema.table in the source
	Column string
	Role   string // "cursor" or "primary key"
	Msg    string
}

func (e *ColumnError) Error() string {
	return fmt.Sprintf("ingest %s: %s column %q of %s: %s", e.Table, e.Role, e.Column, e.Source, e.Msg)
}

// NullCursorError means the contract says null_cursor: fail and the table
// has rows whose cursor is NULL (in the run's key range). Such rows would
// never be picked up by a cursor interval; set null_cursor: include in the
// contract to extract them in every run, or give them a cursor value.
type NullCursorError struct {
	Table  string
	Source string
	Column string
	Rows   int64
}

func (e *NullCursorError) Error() string {
	return fmt.Sprintf("ingest %s: %d rows of %s have a NULL %s, which no incremental run would ever pick up; "+
		"set them, or set null_cursor: include in the contract to extract them in every run", e.Table, e.Rows, e.Source, e.Column)
}

// WatermarkConflictError means another ingest advanced the table's
// watermark after this run read it, so this run did not advance it. The
// bronze objects this run wrote hold rows that the other run (or the next
// one) also extracts: harmless duplicates that silver.<table>_current
// reduces to one version per key.
type WatermarkConflictError struct {
	Table string
	Key   string // the watermark object
	Err   error
}

func (e *WatermarkConflictError) Error() string {
	return fmt.Sprintf("ingest %s: watermark %s was advanced by another run since this run read it; not advanced again "+
		"(this run's bronze objects are harmless duplicates): %v", e.Table, e.Key, e.Err)
}

func (e *WatermarkConflictError) Unwrap() error { return e.Err }

// PrivilegeError means the source role cannot see what the no-loss
// guarantee needs: the start times of other sessions' transactions in
// pg_stat_activity, which only superusers and members of pg_read_all_stats
// see. It is checked on every run, whether or not other sessions happen to
// be connected, so that a missing grant fails at once rather than
// intermittently. Not retryable: GRANT pg_read_all_stats TO the role.
type PrivilegeError struct {
	Table string
	Role  string
}

func (e *PrivilegeError) Error() string {
	return fmt.Sprintf("ingest %s: role %q cannot see other sessions' transactions in pg_stat_activity "+
		"(it is neither superuser nor a member of pg_read_all_stats), so it cannot hold the watermark below "+
		"transactions still in flight; GRANT pg_read_all_stats TO %s", e.Table, e.Role, ident(e.Role))
}

// StandbyError means the source is a standby (pg_is_in_recovery()) and no
// replica lag window was configured: the primary's transactions in flight
// are not visible on a standby, so ingest cannot bound them. Set a lag
// window (Options.ReplicaLag, --replica-lag) longer than any transaction on
// the primary, or read from the primary. Not retryable.
type StandbyError struct {
	Table string
	Msg   string
}

func (e *StandbyError) Error() string {
	return fmt.Sprintf("ingest %s: source is a standby: %s", e.Table, e.Msg)
}

// sourceError returns err as a *SourceUnavailableError when it means the
// source could not be reached or used right now, and nil otherwise.
func sourceError(table, op string, err error) error {
	if err == nil || !unavailable(err) {
		return nil
	}
	return &SourceUnavailableError{Table: table, Op: op, Err: err}
}

func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", // connection exception
			"28", // invalid authorization specification (bad password, no such role)
			"53": // insufficient resources (too many connections, out of memory)
			return true
		}
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", // admin / crash shutdown, cannot connect now
			"40001": // serialization failure: on a standby, conflict with recovery
			return true
		}
		return false
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, context.DeadlineExceeded) || pgconn.SafeToRetry(err)
}
