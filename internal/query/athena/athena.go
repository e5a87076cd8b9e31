// Package athena runs the lake's queries on Amazon Athena, for `lake query
// --athena`: the query's table names rewritten for the deployment (its
// Glue database names, and Iceberg time travel for --as-of),
// StartQueryExecution in a workgroup, GetQueryExecution polled
// with exponential backoff until the query ends, and the result read page
// by page with GetQueryResults and printed as it arrives, with the same
// formatting as the DuckDB engine (package query/format).
//
// Imported by the lake command. Pure Go.
package athena

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"

	"github.com/medallionlake/lake/internal/query/format"
)

// API is the part of *athena.Client this package calls.
type API interface {
	StartQueryExecution(context.Context, *athena.StartQueryExecutionInput, ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error)
	GetQueryExecution(context.Context, *athena.GetQueryExecutionInput, ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error)
	GetQueryResults(context.Context, *athena.GetQueryResultsInput, ...func(*athena.Options)) (*athena.GetQueryResultsOutput, error)
	StopQueryExecution(context.Context, *athena.StopQueryExecutionInput, ...func(*athena.Options)) (*athena.StopQueryExecutionOutput, error)
}

var _ API = (*athena.Client)(nil)

// Defaults of Runner's zero fields.
const (
	DefaultPollMin  = 200 * time.Millisecond
	DefaultPollMax  = 5 * time.Second
	DefaultPageSize = 1000 // GetQueryResults' maximum
)

// Runner runs queries in one workgroup. The workgroup's configuration
// (result location, encryption, scan limit) applies to every query.
type Runner struct {
	API       API
	Workgroup string
	// Tables rewrites the lake's table names in every query for the
	// deployment: its Glue databases, and time travel (Tables.Rewrite).
	Tables Tables
	// PollMin is the first wait between GetQueryExecution calls; each wait
	// doubles up to PollMax.
	PollMin, PollMax time.Duration
	// PageSize is the MaxResults of each GetQueryResults call.
	PageSize int32
}

// QueryError reports a query that ended FAILED or CANCELLED, with Athena's
// StateChangeReason and error details.
type QueryError struct {
	ID        string
	State     types.QueryExecutionState
	Reason    string // StateChangeReason
	ErrorType string // AthenaError's category and type, when Athena gave them
	Message   string // AthenaError.ErrorMessage
}

// Error implements error.
func (e *QueryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "athena: query %s %s", e.ID, e.State)
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	if e.Message != "" && e.Message != e.Reason {
		b.WriteString(": " + e.Message)
	}
	if e.ErrorType != "" {
		b.WriteString(" (" + e.ErrorType + ")")
	}
	return b.String()
}

// Query runs sql and prints its result to w. It returns a *QueryError when
// the query fails or is cancelled; when ctx ends first, it stops the query
// and returns ctx's error.
func (r *Runner) Query(ctx context.Context, sql string, w format.Writer) error {
	sql, err := r.Tables.Rewrite(sql)
	if err != nil {
		return err
	}
	start, err := r.API.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{
		QueryString: aws.String(sql),
		WorkGroup:   aws.String(r.Workgroup),
	})
	if err != nil {
		return fmt.Errorf("athena: start query in workgroup %s: %w", r.Workgroup, err)
	}
	id := aws.ToString(start.QueryExecutionId)
	if err := r.wait(ctx, id); err != nil {
		return err
	}
	return r.results(ctx, id, w)
}

// wait polls the query until it ends.
func (r *Runner) wait(ctx context.Context, id string) error {
	delay := cmp.Or(r.PollMin, DefaultPollMin)
	maxDelay := cmp.Or(r.PollMax, DefaultPollMax)
	for {
		out, err := r.API.GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)})
		if err != nil {
			if ctx.Err() != nil {
				return r.stop(id, ctx.Err())
			}
			return fmt.Errorf("athena: query %s: get execution: %w", id, err)
		}
		if err := Outcome(out.QueryExecution); !errors.Is(err, errRunning) {
			return err
		}
		select {
		case <-ctx.Done():
			return r.stop(id, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, maxDelay)
	}
}

// stop cancels the query after ctx ended, so it does not run (and bill)
// on.
func (r *Runner) stop(id string, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.API.StopQueryExecution(ctx, &athena.StopQueryExecutionInput{QueryExecutionId: aws.String(id)}); err != nil {
		return fmt.Errorf("athena: query %s: %w (and stopping it failed: %v)", id, cause, err)
	}
	return fmt.Errorf("athena: query %s stopped: %w", id, cause)
}

var errRunning = errors.New("athena: query still running")

// Outcome says how an execution stands: nil when it SUCCEEDED, a
// *QueryError when it FAILED or was CANCELLED, an internal sentinel while
// it is QUEUED or RUNNING.
func Outcome(q *types.QueryExecution) error {
	if q == nil || q.Status == nil {
		return errors.New("athena: GetQueryExecution returned no status")
	}
	st := q.Status
	switch st.State {
	case types.QueryExecutionStateSucceeded:
		return nil
	case types.QueryExecutionStateFailed, types.QueryExecutionStateCancelled:
		e := &QueryError{ID: aws.ToString(q.QueryExecutionId), State: st.State, Reason: aws.ToString(st.StateChangeReason)}
		if ae := st.AthenaError; ae != nil {
			e.Message = aws.ToString(ae.ErrorMessage)
			if ae.ErrorCategory != nil || ae.ErrorType != nil {
				e.ErrorType = fmt.Sprintf("error category %d, type %d", aws.ToInt32(ae.ErrorCategory), aws.ToInt32(ae.ErrorType))
			}
		}
		return e
	}
	return errRunning
}

// results prints the query's result page by page.
func (r *Runner) results(ctx context.Context, id string, w format.Writer) error {
	p := athena.NewGetQueryResultsPaginator(r.API, &athena.GetQueryResultsInput{
		QueryExecutionId: aws.String(id),
		MaxResults:       aws.Int32(cmp.Or(r.PageSize, DefaultPageSize)),
	})
	var cols []types.ColumnInfo
	first := true
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("athena: query %s: get results: %w", id, err)
		}
		rows := page.ResultSet.Rows
		if first {
			first = false
			if md := page.ResultSet.ResultSetMetadata; md != nil {
				cols = md.ColumnInfo
			}
			header := make([]format.Column, len(cols))
			for i, c := range cols {
				header[i] = format.Column{Name: aws.ToString(c.Name), Numeric: isNumeric(aws.ToString(c.Type))}
			}
			if err := w.Header(header); err != nil {
				return err
			}
			// A SELECT's first row repeats the column names.
			if len(rows) > 0 && isHeader(rows[0], cols) {
				rows = rows[1:]
			}
		}
		for _, row := range rows {
			vals := make([]format.Value, len(cols))
			for i := range cols {
				var d *string
				if i < len(row.Data) {
					d = row.Data[i].VarCharValue
				}
				vals[i] = Value(d, aws.ToString(cols[i].Type))
			}
			if err := w.Row(vals); err != nil {
				return err
			}
		}
	}
	return w.Close()
}

func isHeader(row types.Row, cols []types.ColumnInfo) bool {
	if len(row.Data) != len(cols) {
		return false
	}
	for i, d := range row.Data {
		if aws.ToString(d.VarCharValue) != aws.ToString(cols[i].Label) && aws.ToString(d.VarCharValue) != aws.ToString(cols[i].Name) {
			return false
		}
	}
	return true
}

func isNumeric(typ string) bool {
	switch typ {
	case "tinyint", "smallint", "integer", "bigint", "real", "float", "double", "decimal":
		return true
	}
	return false
}

// Value converts one result cell, Athena's text of a value of the column
// type typ (nil for NULL), to a printable value.
func Value(d *string, typ string) format.Value {
	if d == nil {
		return format.Null
	}
	s := *d
	switch typ {
	case "tinyint", "smallint", "integer", "bigint", "decimal":
		return format.Number(s)
	case "real", "float", "double":
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return format.Float(f)
		}
	case "boolean":
		if b, err := strconv.ParseBool(s); err == nil {
			return format.Bool(b)
		}
	case "timestamp":
		if t, err := time.Parse("2006-01-02 15:04:05.999999999", s); err == nil {
			return format.Timestamp(t, false)
		}
	case "timestamp with time zone":
		if t, err := parseZoned(s); err == nil {
			return format.Timestamp(t, true)
		}
	}
	return format.String(s)
}

// parseZoned reads Athena's "2024-01-31 10:00:00.000 UTC" (or a zone name
// or offset in place of UTC).
func parseZoned(s string) (time.Time, error) {
	i := strings.LastIndexByte(s, ' ')
	if i < 0 {
		return time.Time{}, fmt.Errorf("no zone in %q", s)
	}
	loc, err := time.LoadLocation(s[i+1:])
	if err != nil {
		t, err2 := time.Parse("2006-01-02 15:04:05.999999999 -07:00", s)
		if err2 != nil {
			return time.Time{}, err
		}
		return t, nil
	}
	return time.ParseInLocation("2006-01-02 15:04:05.999999999", s[:i], loc)
}
