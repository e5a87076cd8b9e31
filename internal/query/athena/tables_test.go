package athena_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"

	lakeathena "github.com/medallionlake/lake/internal/query/athena"
	"github.com/medallionlake/lake/internal/query/format"
	"github.com/medallionlake/lake/queries"
)

// lakeDatabases are the lake's databases, and iceberg those of them that
// hold Iceberg tables.
var (
	lakeDatabases = []string{"silver", "discarded", "meta"}
	iceberg       = []string{"silver", "discarded"}
)

func TestRenameDatabases(t *testing.T) {
	names := lakeathena.DatabaseNames("lake_", lakeDatabases...)
	rename := lakeathena.Tables{Databases: names}
	tests := []struct {
		description string
		sql, want   string
	}{
		{"qualified table", "SELECT count(*) FROM silver.orders", "SELECT count(*) FROM lake_silver.orders"},
		{"each database once per name", "SELECT * FROM silver.orders s JOIN discarded.orders d ON s.order_id = d.order_id, meta.watermarks",
			"SELECT * FROM lake_silver.orders s JOIN lake_discarded.orders d ON s.order_id = d.order_id, lake_meta.watermarks"},
		{"quoted identifiers", `SELECT * FROM "silver"."orders_current"`, `SELECT * FROM "lake_silver"."orders_current"`},
		{"upper case and white space around the dot", "SELECT * FROM SILVER . orders", "SELECT * FROM lake_silver . orders"},
		{"with the catalog", "SELECT * FROM awsdatacatalog.silver.orders", "SELECT * FROM awsdatacatalog.lake_silver.orders"},
		{"a column named like a database is not a qualifier", "SELECT meta, silver FROM silver.t WHERE discarded > 0", "SELECT meta, silver FROM lake_silver.t WHERE discarded > 0"},
		{"the table part keeps its name", "SELECT * FROM meta.silver", "SELECT * FROM lake_meta.silver"},
		{"string literals and comments are left alone", "SELECT 'silver.orders', \"it's\" -- silver.orders\nFROM /* meta.x */ silver.orders",
			"SELECT 'silver.orders', \"it's\" -- silver.orders\nFROM /* meta.x */ lake_silver.orders"},
		{"escaped quotes", `SELECT 'a''silver.x' FROM "si""lver".t, silver.t`, `SELECT 'a''silver.x' FROM "si""lver".t, lake_silver.t`},
		{"other databases", "SELECT * FROM other.orders, silvery.orders", "SELECT * FROM other.orders, silvery.orders"},
	}
	for _, tc := range tests {
		t.Run(tc.description, func(t *testing.T) {
			got, err := rename.Rewrite(tc.sql)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Rewrite(%q)\n got %q\nwant %q", tc.sql, got, tc.want)
			}
		})
	}
	for _, bad := range []string{"SELECT 'open", `SELECT "open`, "SELECT /* open"} {
		if _, err := rename.Rewrite(bad); err == nil || !strings.Contains(err.Error(), "unterminated") {
			t.Errorf("Rewrite(%q) = %v, want an unterminated error", bad, err)
		}
	}
	if got, err := (lakeathena.Tables{}).Rewrite("SELECT * FROM silver.orders"); err != nil || got != "SELECT * FROM silver.orders" {
		t.Errorf("without names: %q, %v; want the SQL unchanged", got, err)
	}
}

// TestRenameNamedQueries renames the example queries: every lake database
// they name is renamed, and nothing else changes.
func TestRenameNamedQueries(t *testing.T) {
	names := lakeathena.DatabaseNames("lake_", lakeDatabases...)
	for _, n := range queries.Names() {
		sql, err := queries.Get(n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := lakeathena.Tables{Databases: names}.Rewrite(sql)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		code := withoutComments(sql)
		for db, to := range names {
			if want := strings.Count(code, db+"."); strings.Count(got, to+".") != want {
				t.Errorf("%s: %d qualified names of %s, %d renamed to %s:\n%s", n, want, db, strings.Count(got, to+"."), to, got)
			}
		}
		if back := strings.ReplaceAll(got, "lake_", ""); back != sql {
			t.Errorf("%s: renaming changed more than the databases:\n%s", n, got)
		}
	}
}

func TestTimeTravel(t *testing.T) {
	asOf := time.Date(2025, 1, 31, 11, 0, 0, 250_000_000, time.FixedZone("CET", 3600))
	const clause = " FOR TIMESTAMP AS OF TIMESTAMP '2025-01-31 10:00:00.250000 UTC'"
	tables := lakeathena.Tables{Databases: lakeathena.DatabaseNames("lake_", lakeDatabases...), Iceberg: iceberg, AsOf: asOf}
	for _, tc := range []struct {
		description string
		sql, want   string
	}{
		{"each Iceberg table, before its alias", "SELECT count(*) FROM silver.orders_current c JOIN discarded.orders AS d ON c.order_id = d.order_id",
			"SELECT count(*) FROM lake_silver.orders_current" + clause + " c JOIN lake_discarded.orders" + clause + " AS d ON c.order_id = d.order_id"},
		{"meta tables are not Iceberg tables", "SELECT * FROM meta.watermarks, silver.orders",
			"SELECT * FROM lake_meta.watermarks, lake_silver.orders" + clause},
		{"with the catalog, quoted", `SELECT * FROM awsdatacatalog."silver"."orders"`,
			`SELECT * FROM awsdatacatalog."lake_silver"."orders"` + clause},
		{"a column qualified by its table is not a table", "SELECT silver.orders.status FROM silver.orders",
			"SELECT lake_silver.orders.status FROM lake_silver.orders" + clause},
		{"subqueries and CTEs", "WITH x AS (SELECT * FROM silver.orders) SELECT * FROM x WHERE order_id IN (SELECT order_id FROM discarded.orders)",
			"WITH x AS (SELECT * FROM lake_silver.orders" + clause + ") SELECT * FROM x WHERE order_id IN (SELECT order_id FROM lake_discarded.orders" + clause + ")"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			got, err := tables.Rewrite(tc.sql)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Rewrite(%q)\n got %q\nwant %q", tc.sql, got, tc.want)
			}
		})
	}
	if _, err := tables.Rewrite("SELECT * FROM silver.orders FOR VERSION AS OF 42"); err == nil || !strings.Contains(err.Error(), "silver.orders has a FOR ... AS OF clause") {
		t.Errorf("a table with its own clause: %v, want an error naming it", err)
	}
	// Without a prefix, the names stay and only the clause is added.
	if got, err := (lakeathena.Tables{Iceberg: iceberg, AsOf: asOf}).Rewrite("SELECT * FROM silver.orders"); err != nil || got != "SELECT * FROM silver.orders"+clause {
		t.Errorf("without a prefix: %q, %v", got, err)
	}
}

// withoutComments drops the -- comment lines of sql.
func withoutComments(sql string) string {
	var code []string
	for _, line := range strings.Split(sql, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			code = append(code, line)
		}
	}
	return strings.Join(code, "\n")
}

// TestQueryRenamesDatabases checks that the query Athena receives names
// the deployment's Glue databases, and reads the Iceberg tables as of the
// time asked.
func TestQueryRenamesDatabases(t *testing.T) {
	m := newMoto(t)
	m.queue(t, [][2]string{{"n", "bigint"}}, []*string{s("1")})
	r := m.runner()
	r.Tables = lakeathena.Tables{Databases: lakeathena.DatabaseNames("lake_", lakeDatabases...), Iceberg: iceberg, AsOf: time.Date(2025, 1, 31, 10, 0, 0, 0, time.UTC)}
	w, _ := format.New(new(bytes.Buffer), format.CSV)
	if err := r.Query(context.Background(), "SELECT count(*) AS n FROM silver.orders", w); err != nil {
		t.Fatal(err)
	}
	ids, err := m.client.ListQueryExecutions(context.Background(), &athena.ListQueryExecutionsInput{WorkGroup: aws.String(workgroup)})
	if err != nil || len(ids.QueryExecutionIds) != 1 {
		t.Fatalf("executions: %v, %v; want 1", ids, err)
	}
	q, err := m.client.GetQueryExecution(context.Background(), &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(ids.QueryExecutionIds[0])})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(q.QueryExecution.Query), "SELECT count(*) AS n FROM lake_silver.orders FOR TIMESTAMP AS OF TIMESTAMP '2025-01-31 10:00:00.000000 UTC'"; got != want {
		t.Errorf("query sent = %q, want %q", got, want)
	}
}
