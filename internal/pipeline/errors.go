package pipeline

import (
	"errors"
	"fmt"

	"github.com/medallionlake/lake/internal/crawl"
	"github.com/medallionlake/lake/internal/dq"
	"github.com/medallionlake/lake/internal/ingest"
	"github.com/medallionlake/lake/internal/pgarrow"
	"github.com/medallionlake/lake/internal/store"
)

// BadInputError means a task was given input of the wrong shape: a bug in
// the definition or a hand-made start, never retried.
type BadInputError struct {
	Task   string
	Reason string
}

func (e *BadInputError) Error() string {
	return fmt.Sprintf("pipeline: %s: bad input: %s", e.Task, e.Reason)
}

// workflowError returns the named error that err wraps, when it wraps one
// the state machine retries or catches by name, so that the Lambda runtime
// (and the local interpreter) report that type as the error name; any
// other error is returned as it is. The named errors' messages carry their
// own context (table, key, operation).
func workflowError(err error) error {
	for _, find := range named {
		if e := find(err); e != nil {
			return e
		}
	}
	return err
}

// named are the error types the workflow matches in ErrorEquals, most
// specific first.
var named = []func(error) error{
	as[*ingest.SourceUnavailableError],
	as[*store.StoreUnavailableError],
	as[*store.StoreFullError],
	as[*ingest.WatermarkConflictError],
	as[*ingest.ColumnError],
	as[*ingest.NullCursorError],
	as[*ingest.PrivilegeError],
	as[*ingest.StandbyError],
	as[*pgarrow.TableNotFoundError],
	as[*pgarrow.UnsupportedTypeError],
	as[*pgarrow.UnrepresentableValueError],
	as[*crawl.SchemaDriftError],
	as[*dq.MemoryBudgetError],
	as[*dq.UnreadableError],
}

func as[T error](err error) error {
	var t T
	if errors.As(err, &t) {
		return t
	}
	return nil
}
