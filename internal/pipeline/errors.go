package pipeline

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/medallionlake/lake/internal/bronze"
	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/dq"
	"github.com/medallionlake/lake/internal/icecatalog"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/ingest"
	"github.com/medallionlake/lake/internal/maintain"
	"github.com/medallionlake/lake/internal/pgarrow"
	"github.com/medallionlake/lake/internal/route"
	"github.com/medallionlake/lake/internal/store"
)

// BadInputError means a task was given input of the wrong shape: an
// unknown or missing field, a wrong type, a request that contradicts
// itself. It is a bug in the definition or a hand-made start, never
// retried.
type BadInputError struct {
	Task   string
	Reason string
}

func (e *BadInputError) Error() string {
	return fmt.Sprintf("pipeline: %s: bad input: %s", e.Task, e.Reason)
}

// TaskError is any failure of a task that no other type names: a bug, a
// broken deployment, a store or catalog that refuses a request for good.
// Not retried; the message says what failed and where.
type TaskError struct {
	Task string
	Err  error
}

func (e *TaskError) Error() string { return fmt.Sprintf("pipeline: %s: %v", e.Task, e.Err) }
func (e *TaskError) Unwrap() error { return e.Err }

// ErrorType is one error a task may return: the name the Lambda runtime
// reports as errorType and the state machine matches in ErrorEquals (the
// Go type's name), and whether the workflow retries it.
type ErrorType struct {
	Name      string
	Retryable bool
	find      func(error) error
}

func errorType[T error](retryable bool) ErrorType {
	return ErrorType{Name: reflect.TypeFor[T]().Elem().Name(), Retryable: retryable, find: func(err error) error {
		var t T
		if errors.As(err, &t) {
			return t
		}
		return nil
	}}
}

// ErrorTypes are every error type a task returns, most specific first;
// the docs of the steps (docs/ingest.md, docs/route.md, docs/iceberg.md,
// ...) say what each means and what to do. Any other error is returned
// as a *TaskError.
var ErrorTypes = []ErrorType{
	errorType[*ingest.SourceUnavailableError](true),
	errorType[*store.StoreUnavailableError](true),
	errorType[*store.StoreFullError](false),
	errorType[*dq.MemoryBudgetError](false),
	errorType[*ingest.WatermarkConflictError](false),
	errorType[*ingest.ColumnError](false),
	errorType[*ingest.NullCursorError](false),
	errorType[*ingest.PrivilegeError](false),
	errorType[*ingest.StandbyError](false),
	errorType[*pgarrow.TableNotFoundError](false),
	errorType[*pgarrow.UnsupportedTypeError](false),
	errorType[*pgarrow.UnrepresentableValueError](false),
	errorType[*bronze.ObjectKeyError](false),
	errorType[*bronze.UnknownTableError](false),
	errorType[*bronze.ObjectNotFoundError](false),
	errorType[*bronze.ObjectChangedError](false),
	errorType[*bronze.ContractError](false),
	errorType[*catalog.ColumnNameError](false),
	errorType[*route.ResultMismatchError](false),
	errorType[*route.ConservationError](false),
	errorType[*icetable.SchemaDriftError](false),
	errorType[*icetable.CommitConflictError](false),
	errorType[*icetable.MissingDataFileError](false),
	errorType[*icecatalog.CorruptMetadataError](false),
	errorType[*store.RecordError](false),
	errorType[*maintain.FailedError](false),
	errorType[*BadInputError](false),
	errorType[*TaskError](false),
}

// WorkflowError returns the named error that err wraps, so that the
// Lambda runtime (and the local interpreter) report that type as the
// error name; any other error comes back as a *TaskError of task. The
// named errors' messages carry their own context (table, key, operation).
// The lake command names errors by it too.
func WorkflowError(task string, err error) error {
	for _, t := range ErrorTypes {
		if e := t.find(err); e != nil {
			return e
		}
	}
	return &TaskError{Task: task, Err: err}
}
