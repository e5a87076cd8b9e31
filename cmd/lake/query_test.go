package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/athena"

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

// TestQueryCommandAthena runs `lake query --athena` against the
// moto_server that `make test` starts (moto returns no rows: it runs no
// SQL), through the SDK's standard endpoint override.
func TestQueryCommandAthena(t *testing.T) {
	endpoint := os.Getenv("LAKE_TEST_MOTO_ENDPOINT")
	if endpoint == "" {
		t.Skip("LAKE_TEST_MOTO_ENDPOINT unset: run `make test`, which starts moto_server")
	}
	t.Setenv("AWS_ENDPOINT_URL_ATHENA", endpoint)
	region := testenv.MotoRegion()
	t.Setenv("AWS_REGION", region)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_PROFILE", "")
	client := athena.New(athena.Options{Region: region, BaseEndpoint: aws.String(endpoint), Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	if _, err := client.CreateWorkGroup(context.Background(), &athena.CreateWorkGroupInput{Name: aws.String("cli")}); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := runQuery(context.Background(), []string{"--athena", "--workgroup", "cli", "--database-prefix", "lake_", "--format", "csv", "--named", "latest_watermark_per_table"}, &stdout, &stderr); err != nil {
		t.Fatalf("lake query --athena: %v", err)
	}
	if got, want := stdout.String(), "\n"; got != want {
		t.Errorf("stdout = %q, want %q (moto's empty result: no columns, no rows)", got, want)
	}
	// The query named the deployment's Glue database.
	ids, err := client.ListQueryExecutions(context.Background(), &athena.ListQueryExecutionsInput{WorkGroup: aws.String("cli")})
	if err != nil || len(ids.QueryExecutionIds) != 1 {
		t.Fatalf("executions: %v, %v; want 1", ids, err)
	}
	q, err := client.GetQueryExecution(context.Background(), &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(ids.QueryExecutionIds[0])})
	if err != nil {
		t.Fatal(err)
	}
	if sent := aws.ToString(q.QueryExecution.Query); !strings.Contains(sent, "FROM lake_meta.watermarks") {
		t.Errorf("query sent:\n%s\nwant it to read lake_meta.watermarks", sent)
	}
}
