package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/athena"

	"github.com/medallionlake/lake/internal/bronze/bronzetest"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/store/storeurl"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestQueryCommand(t *testing.T) {
	lake := "file://" + t.TempDir()
	for _, tc := range []struct {
		description string
		args        []string
		want        string // stdout, when no error is expected
		wantErr     string
	}{
		{"csv", []string{"--lake", lake, "--format", "csv", "SELECT 1 AS n, 12.50::DECIMAL(12,2) AS amount, NULL AS x"}, "n,amount,x\n1,12.50,\n", ""},
		{"json", []string{"--lake", lake, "--format", "json", "SELECT TIMESTAMPTZ '2024-01-31 10:00:00+01' AS ts"}, "[\n  {\"ts\": \"2024-01-31T09:00:00Z\"}\n]\n", ""},
		{"schemas exist on an empty lake", []string{"--lake", lake, "--format", "csv", "SELECT count(*) AS n FROM information_schema.schemata WHERE schema_name IN ('silver', 'discarded', 'meta')"}, "n\n3\n", ""},
		{"SQL starting with a comment", []string{"--lake", lake, "--format", "csv", "-- a comment\nSELECT 2 AS n"}, "n\n2\n", ""},
		{"bad query gets DuckDB's error", []string{"--lake", lake, "SELEC 1"}, "", "Parser Error: syntax error at or near \"SELEC\""},
		{"unknown table", []string{"--lake", lake, "SELECT * FROM silver.orders"}, "", "Catalog Error: Table with name orders does not exist"},
		{"unknown named query", []string{"--lake", lake, "--named", "nope"}, "", `no query named "nope"`},
		{"SQL and a named query", []string{"--lake", lake, "--named", "discard_rate_per_rule", "SELECT 1"}, "", "not both"},
		{"no SQL", []string{"--lake", lake}, "", "no SQL given"},
		{"unknown format", []string{"--lake", lake, "--format", "xml", "SELECT 1"}, "", `unknown format "xml"`},
		{"athena without workgroup", []string{"--athena", "SELECT 1"}, "", "--athena needs --workgroup"},
		{"a bad as-of time", []string{"--lake", lake, "--as-of", "last tuesday", "SELECT 1"}, "", `as-of time "last tuesday": want RFC 3339`},
	} {
		t.Run(tc.description, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := runQuery(context.Background(), tc.args, &stdout, &stderr)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("lake query %q: %v", tc.args, err)
			case tc.wantErr == "" && stdout.String() != tc.want:
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), tc.want)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("lake query %q = %v, want an error containing %q", tc.args, err, tc.wantErr)
			}
		})
	}
}

// TestQueryCommandAthena runs `lake query --athena` against moto_server
// (which returns no rows: it runs no SQL), through the SDK's standard
// endpoint override, and checks the queries Athena received: the
// deployment's Glue databases, and time travel with --as-of.
func TestQueryCommandAthena(t *testing.T) {
	endpoint := testenv.Moto(t)
	t.Setenv("AWS_ENDPOINT_URL_ATHENA", endpoint)
	region := testenv.MotoRegion()
	t.Setenv("AWS_REGION", region)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_PROFILE", "")
	client := athena.New(athena.Options{Region: region, BaseEndpoint: aws.String(endpoint), Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	for _, tc := range []struct {
		description string
		args        []string
		want        []string // in the query sent
	}{
		{"database prefix", []string{"--named", "latest_watermark_per_table"}, []string{"FROM lake_meta.watermarks"}},
		{"time travel", []string{"--as-of", "2025-01-31T11:00:00+01:00", "--named", "discard_rate_per_rule"}, []string{
			"FROM lake_discarded.orders FOR TIMESTAMP AS OF TIMESTAMP '2025-01-31 10:00:00.000000 UTC'",
			"FROM lake_silver.orders FOR TIMESTAMP AS OF TIMESTAMP '2025-01-31 10:00:00.000000 UTC'",
		}},
	} {
		t.Run(tc.description, func(t *testing.T) {
			workgroup := "cli-" + strings.ReplaceAll(tc.description, " ", "-")
			if _, err := client.CreateWorkGroup(context.Background(), &athena.CreateWorkGroupInput{Name: aws.String(workgroup)}); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			args := append([]string{"--athena", "--workgroup", workgroup, "--database-prefix", "lake_", "--format", "csv"}, tc.args...)
			if err := runQuery(context.Background(), args, &stdout, &stderr); err != nil {
				t.Fatalf("lake query %q: %v", args, err)
			}
			if got, want := stdout.String(), "\n"; got != want {
				t.Errorf("stdout = %q, want %q (moto's empty result: no columns, no rows)", got, want)
			}
			ids, err := client.ListQueryExecutions(context.Background(), &athena.ListQueryExecutionsInput{WorkGroup: aws.String(workgroup)})
			if err != nil || len(ids.QueryExecutionIds) != 1 {
				t.Fatalf("executions: %v, %v; want 1", ids, err)
			}
			q, err := client.GetQueryExecution(context.Background(), &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(ids.QueryExecutionIds[0])})
			if err != nil {
				t.Fatal(err)
			}
			sent := aws.ToString(q.QueryExecution.Query)
			for _, w := range tc.want {
				if !strings.Contains(sent, w) {
					t.Errorf("query sent:\n%s\nwant it to contain %q", sent, w)
				}
			}
		})
	}
}

// TestQueryCommandIceberg reads Iceberg tables written and committed as
// the pipeline does, now and --as-of a time between two commits.
func TestQueryCommandIceberg(t *testing.T) {
	dir := t.TempDir()
	lakeURL := "file://" + dir
	st, err := storeurl.Open(context.Background(), lakeURL)
	if err != nil {
		t.Fatal(err)
	}
	ice, err := pipeline.OpenIceberg(st, lakeURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := contract.LoadFile("../../schemas/orders.table.yaml")
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2025, 1, 31, 10, 0, 0, 0, time.UTC)
	commit := func(key string, orders ...bronzetest.Order) time.Time {
		for _, kind := range []icetable.Kind{icetable.Silver, icetable.Current} {
			w, err := ice.NewWriter(context.Background(), kind, ct, icetable.Object{Key: "bronze/landing/orders/" + key, ETag: key}, bronzetest.OrdersSchema)
			if err != nil {
				t.Fatal(err)
			}
			b := array.NewRecordBuilder(memory.DefaultAllocator, bronzetest.OrdersSchema)
			for _, o := range orders {
				bronzetest.AppendOrder(b, o)
			}
			rec := b.NewRecordBatch()
			err = w.Write(rec)
			rec.Release()
			b.Release()
			if err != nil {
				t.Fatal(err)
			}
			files, err := w.Close()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ice.Commit(context.Background(), ct, files); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Millisecond)
		return time.Now()
	}
	first := commit("a.parquet", bronzetest.Good(1, created), bronzetest.Good(2, created))
	time.Sleep(5 * time.Millisecond)
	second := bronzetest.Good(1, created)
	second.Status, second.UpdatedAt = bronzetest.P("SHIPPED"), bronzetest.P(created.Add(time.Hour))
	commit("b.parquet", second)

	const q = "SELECT (SELECT string_agg(order_id || ':' || status, ' ' ORDER BY order_id) FROM silver.orders_current) AS c, (SELECT count(*) FROM silver.orders) AS n"
	for _, tc := range []struct {
		description string
		asOf        string
		want        string
		wantStderr  string
	}{
		{"now", "", "c,n\n1:SHIPPED 2:PAID,3\n", ""},
		{"between the commits", first.UTC().Format(time.RFC3339Nano), "c,n\n1:PAID 2:PAID,2\n", "silver.orders_current at snapshot"},
		{"before the tables", "2000-01-01", "c,n\n,0\n", "silver.orders was empty"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := []string{"--lake", lakeURL, "--schemas", "../../schemas", "--format", "csv"}
			if tc.asOf != "" {
				args = append(args, "--as-of", tc.asOf)
			}
			if err := runQuery(context.Background(), append(args, q), &stdout, &stderr); err != nil {
				t.Fatalf("lake query %q: %v", args, err)
			}
			if got := stdout.String(); got != tc.want {
				t.Errorf("stdout = %q, want %q", got, tc.want)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr = %q, want it to say %q", stderr.String(), tc.wantStderr)
			}
		})
	}
}
