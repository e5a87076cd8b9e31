package athena_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"

	lakeathena "github.com/medallionlake/lake/internal/query/athena"
	"github.com/medallionlake/lake/internal/query/format"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// moto is a moto_server region of the test's own, with a workgroup.
type moto struct {
	endpoint, region string
	client           *athena.Client
}

const workgroup = "lake"

func newMoto(t *testing.T) *moto {
	t.Helper()
	m := &moto{endpoint: testenv.Moto(t), region: testenv.MotoRegion()}
	m.client = athena.New(athena.Options{
		Region:       m.region,
		BaseEndpoint: aws.String(m.endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	if _, err := m.client.CreateWorkGroup(context.Background(), &athena.CreateWorkGroupInput{Name: aws.String(workgroup)}); err != nil {
		t.Fatalf("CreateWorkGroup: %v", err)
	}
	return m
}

// post sends a request to moto_server's own API.
func (m *moto) post(t *testing.T, path string, body any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(m.endpoint+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST %s: %s", path, resp.Status)
	}
}

// queue sets the rows (cells as strings, nil for NULL) that moto_server
// answers the next query of this region with. Moto runs no SQL: it
// returns these canned rows, whatever the query.
func (m *moto) queue(t *testing.T, cols [][2]string, rows ...[]*string) {
	t.Helper()
	var info []map[string]any
	var header []map[string]string
	for _, c := range cols {
		info = append(info, map[string]any{"Name": c[0], "Label": c[0], "Type": c[1]})
		header = append(header, map[string]string{"VarCharValue": c[0]})
	}
	data := []map[string]any{{"Data": header}}
	for _, r := range rows {
		var cells []map[string]string
		for _, v := range r {
			if v == nil {
				cells = append(cells, map[string]string{})
			} else {
				cells = append(cells, map[string]string{"VarCharValue": *v})
			}
		}
		data = append(data, map[string]any{"Data": cells})
	}
	m.post(t, "/moto-api/static/athena/query-results", map[string]any{
		"region":  m.region,
		"results": []any{map[string]any{"rows": data, "column_info": info}},
	})
}

// stateTicks makes every query stay in each state (QUEUED, RUNNING) for n
// GetQueryExecution calls, until the test ends. This setting is global to
// the moto_server.
func (m *moto) stateTicks(t *testing.T, n int) {
	t.Helper()
	m.post(t, "/moto-api/state-manager/set-transition", map[string]any{
		"model_name": "athena::execution",
		"transition": map[string]any{"progression": "manual", "times": n},
	})
	t.Cleanup(func() {
		m.post(t, "/moto-api/state-manager/unset-transition", map[string]any{"model_name": "athena::execution"})
	})
}

func (m *moto) runner() *lakeathena.Runner {
	return &lakeathena.Runner{API: m.client, Workgroup: workgroup, PollMin: 5 * time.Millisecond, PollMax: 20 * time.Millisecond, PageSize: 2}
}

func s(v string) *string { return &v }

func TestQuery(t *testing.T) {
	m := newMoto(t)
	m.stateTicks(t, 2) // QUEUED and RUNNING are each seen twice: the runner must poll
	m.queue(t, [][2]string{{"day", "date"}, {"status", "varchar"}, {"orders", "bigint"}, {"amount", "decimal"}, {"share", "double"}, {"last_update", "timestamp"}},
		[]*string{s("2024-01-01"), s("PAID"), s("2"), s("20.50"), s("0.25"), s("2024-01-04 09:30:00.250")},
		[]*string{s("2024-01-01"), nil, s("1"), s("0.05"), s("1.0E-4"), nil},
		[]*string{s("2024-01-02"), s("PENDING"), s("1"), nil, s("1"), s("2024-01-02 08:00:00.000")},
	)
	var out bytes.Buffer
	w, _ := format.New(&out, format.CSV)
	const sql = "SELECT CAST(created_at AS date) AS day, status, count(*) AS orders FROM silver.orders GROUP BY 1, 2"
	if err := m.runner().Query(context.Background(), sql, w); err != nil {
		t.Fatalf("Query: %v", err)
	}
	want := `day,status,orders,amount,share,last_update
2024-01-01,PAID,2,20.50,0.25,2024-01-04 09:30:00.25
2024-01-01,,1,0.05,0.0001,
2024-01-02,PENDING,1,,1,2024-01-02 08:00:00
`
	if got := out.String(); got != want {
		t.Errorf("result:\n%s\nwant:\n%s", got, want)
	}

	// The request reached Athena as sent, in the workgroup.
	ids, err := m.client.ListQueryExecutions(context.Background(), &athena.ListQueryExecutionsInput{WorkGroup: aws.String(workgroup)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids.QueryExecutionIds) != 1 {
		t.Fatalf("executions in workgroup %s: %v, want 1", workgroup, ids.QueryExecutionIds)
	}
	q, err := m.client.GetQueryExecution(context.Background(), &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(ids.QueryExecutionIds[0])})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(q.QueryExecution.Query); got != sql {
		t.Errorf("query sent = %q, want %q", got, sql)
	}
}

// TestEmptyResult: a query with no rows prints the header only. (Moto
// answers with no columns at all when no result is queued.)
func TestEmptyResult(t *testing.T) {
	m := newMoto(t)
	m.queue(t, [][2]string{{"n", "bigint"}})
	var out bytes.Buffer
	w, _ := format.New(&out, format.JSON)
	if err := m.runner().Query(context.Background(), "SELECT 1 AS n WHERE false", w); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "[]\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestCancelled: a query cancelled while it waits in the queue ends the
// call with a *QueryError naming the state.
func TestCancelled(t *testing.T) {
	m := newMoto(t)
	m.stateTicks(t, 1000)
	done := make(chan error, 1)
	go func() {
		w, _ := format.New(new(bytes.Buffer), format.CSV)
		done <- m.runner().Query(context.Background(), "SELECT 1", w)
	}()
	var id string
	for id == "" {
		out, err := m.client.ListQueryExecutions(context.Background(), &athena.ListQueryExecutionsInput{WorkGroup: aws.String(workgroup)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.QueryExecutionIds) > 0 {
			id = out.QueryExecutionIds[0]
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := m.client.StopQueryExecution(context.Background(), &athena.StopQueryExecutionInput{QueryExecutionId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	var qe *lakeathena.QueryError
	select {
	case err := <-done:
		if !errors.As(err, &qe) || qe.State != types.QueryExecutionStateCancelled || qe.ID != id {
			t.Fatalf("Query = %v, want a *QueryError CANCELLED for %s", err, id)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Query did not notice the cancellation")
	}
}

// TestContextEnds: when the caller gives up, the runner stops the query
// in Athena rather than leaving it running.
func TestContextEnds(t *testing.T) {
	m := newMoto(t)
	m.stateTicks(t, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	w, _ := format.New(new(bytes.Buffer), format.CSV)
	err := m.runner().Query(ctx, "SELECT 1", w)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Query = %v, want context.DeadlineExceeded", err)
	}
	ids, err := m.client.ListQueryExecutions(context.Background(), &athena.ListQueryExecutionsInput{WorkGroup: aws.String(workgroup)})
	if err != nil || len(ids.QueryExecutionIds) != 1 {
		t.Fatalf("ListQueryExecutions = %v, %v", ids, err)
	}
	q, err := m.client.GetQueryExecution(context.Background(), &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(ids.QueryExecutionIds[0])})
	if err != nil {
		t.Fatal(err)
	}
	if got := q.QueryExecution.Status.State; got != types.QueryExecutionStateCancelled {
		t.Errorf("state after the caller gave up = %s, want CANCELLED", got)
	}
}

// TestOutcome covers the terminal states, including FAILED, which
// moto_server never reports (it runs no SQL).
func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		description string
		status      types.QueryExecutionStatus
		want        string // "" for success
	}{
		{"succeeded", types.QueryExecutionStatus{State: types.QueryExecutionStateSucceeded}, ""},
		{"failed with Athena's reason", types.QueryExecutionStatus{
			State:             types.QueryExecutionStateFailed,
			StateChangeReason: aws.String("COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved"),
			AthenaError:       &types.AthenaError{ErrorCategory: aws.Int32(2), ErrorType: aws.Int32(1006), ErrorMessage: aws.String("COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved")},
		}, "athena: query q-1 FAILED: COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved (error category 2, type 1006)"},
		{"cancelled", types.QueryExecutionStatus{State: types.QueryExecutionStateCancelled, StateChangeReason: aws.String("Query cancelled by user")},
			"athena: query q-1 CANCELLED: Query cancelled by user"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			err := lakeathena.Outcome(&types.QueryExecution{QueryExecutionId: aws.String("q-1"), Status: &tc.status})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Outcome = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValue(t *testing.T) {
	for _, tc := range []struct {
		cell, typ, want string
	}{
		{"2024-01-31 10:00:00.000 UTC", "timestamp with time zone", "2024-01-31 10:00:00Z"},
		{"2024-01-31 11:00:00.500 Europe/Paris", "timestamp with time zone", "2024-01-31 10:00:00.5Z"},
		{"true", "boolean", "true"},
		{"[a, b]", "array", "[a, b]"},
	} {
		if got := lakeathena.Value(&tc.cell, tc.typ).Text; got != tc.want {
			t.Errorf("Value(%q, %s) = %q, want %q", tc.cell, tc.typ, got, tc.want)
		}
	}
	if v := lakeathena.Value(nil, "varchar"); !v.Null {
		t.Errorf("Value(nil) is not NULL")
	}
}
