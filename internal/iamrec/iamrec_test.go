package iamrec

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/medallionlake/lake/internal/catalog/catalogtest"
	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/icebergio"
	"github.com/medallionlake/lake/internal/icecatalog"
	"github.com/medallionlake/lake/internal/icecatalog/lakepointer"
	"github.com/medallionlake/lake/internal/store/filestore"
	"github.com/medallionlake/lake/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var account = Account{Partition: "aws", Region: "eu-west-1", ID: "123456789012"}

const (
	bucketARN = "arn:aws:s3:::lake-bkt"
	keyARN    = "arn:aws:kms:eu-west-1:123456789012:key/k1"
	glueARN   = "arn:aws:glue:eu-west-1:123456789012:"
)

// req renders a request as "action resource [context]" for comparisons.
func req(r Request) string {
	s := r.Action + " " + r.Resource
	for _, k := range slices.Sorted(maps.Keys(r.Context)) {
		s += fmt.Sprintf(" %s=%s", k, r.Context[k])
	}
	return s
}

// since returns the requests logged after the first n, rendered.
func since(l *Log, n int) []string {
	var out []string
	for _, r := range l.Requests()[n:] {
		out = append(out, req(r))
	}
	return out
}

// seen collects the calls the tests made, to check that every row of
// calls is exercised.
var seen = map[string]bool{}

func check(t *testing.T, l *Log, n int, do func(), want ...string) {
	t.Helper()
	do()
	got := since(l, n)
	if !slices.Equal(got, want) {
		t.Errorf("requests:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, r := range l.Requests()[n:] {
		for name := range calls {
			if strings.HasPrefix(r.Call, name+" ") {
				seen[name] = true
			}
		}
	}
}

func testStore(t *testing.T) {
	ctx := context.Background()
	inner, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var l Log
	s := Store(inner, Bucket{Name: "lake-bkt", Prefix: "prod/", KMSKey: keyARN, PartSize: 16}, account, &l)
	obj := bucketARN + "/prod/bronze/landing/orders/a.parquet"
	const via = "kms:ViaService=s3.eu-west-1.amazonaws.com"
	tests := []struct {
		description string
		do          func() error
		want        []string
	}{
		{"a small put", func() error {
			_, err := s.Put(ctx, "bronze/landing/orders/a.parquet", strings.NewReader("PAR1"), nil)
			return err
		}, []string{"s3:PutObject " + obj, "kms:GenerateDataKey " + keyARN + " " + via}},
		{"a put of the part size is a multipart upload", func() error {
			_, err := s.Put(ctx, "bronze/landing/orders/b.parquet", strings.NewReader(strings.Repeat("x", 16)), nil)
			return err
		}, []string{"s3:PutObject " + bucketARN + "/prod/bronze/landing/orders/b.parquet", "s3:AbortMultipartUpload " + bucketARN + "/prod/bronze/landing/orders/b.parquet",
			"kms:GenerateDataKey " + keyARN + " " + via, "kms:Decrypt " + keyARN + " " + via}},
		{"a get", func() error {
			rc, _, err := s.Get(ctx, "bronze/landing/orders/a.parquet")
			if err == nil {
				rc.Close()
			}
			return err
		}, []string{"s3:GetObject " + obj, "kms:Decrypt " + keyARN + " " + via}},
		{"a ranged get", func() error {
			rc, err := s.GetRange(ctx, "bronze/landing/orders/a.parquet", 0, 2)
			if err == nil {
				rc.Close()
			}
			return err
		}, []string{"s3:GetObject " + obj, "kms:Decrypt " + keyARN + " " + via}},
		{"a stat", func() error { _, err := s.Stat(ctx, "bronze/landing/orders/a.parquet"); return err },
			[]string{"s3:GetObject " + obj}},
		{"a stat of a missing key needs the listing permission", func() error {
			_, err := s.Stat(ctx, "_meta/watermarks/orders.json")
			if err == nil {
				return fmt.Errorf("found a missing key")
			}
			return nil
		}, []string{"s3:GetObject " + bucketARN + "/prod/_meta/watermarks/orders.json", "s3:ListBucket " + bucketARN}},
		{"a get of a missing key too", func() error {
			if _, _, err := s.Get(ctx, "_meta/watermarks/orders.json"); err == nil {
				return fmt.Errorf("found a missing key")
			}
			return nil
		}, []string{"s3:GetObject " + bucketARN + "/prod/_meta/watermarks/orders.json", "kms:Decrypt " + keyARN + " " + via, "s3:ListBucket " + bucketARN}},
		{"a list", func() error {
			for _, err := range s.List(ctx, "bronze/landing/") {
				if err != nil {
					return err
				}
			}
			return nil
		}, []string{"s3:ListBucket " + bucketARN + " s3:prefix=prod/bronze/landing/"}},
		{"a delete", func() error { return s.Delete(ctx, "bronze/landing/orders/a.parquet") },
			[]string{"s3:DeleteObject " + obj}},
	}
	for _, tc := range tests {
		t.Run(tc.description, func(t *testing.T) {
			check(t, &l, len(l.Requests()), func() {
				if err := tc.do(); err != nil {
					t.Fatal(err)
				}
			}, tc.want...)
		})
	}
	t.Run("a bucket without a KMS key asks no KMS", func(t *testing.T) {
		var l Log
		plain := Store(inner, Bucket{Name: "lake-bkt"}, account, &l)
		check(t, &l, 0, func() {
			if _, err := plain.Put(ctx, "_meta/failures/x.json", strings.NewReader("{}"), nil); err != nil {
				t.Fatal(err)
			}
		}, "s3:PutObject "+bucketARN+"/_meta/failures/x.json")
	})
}

func testCatalog(t *testing.T) {
	ctx := context.Background()
	lake, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var l Log
	c := Catalog(localcatalog.New(lake), account, func(db string) string { return "lake_" + db }, &l)
	glue := func(action, table string) []string {
		return []string{action + " " + glueARN + "catalog", action + " " + glueARN + "database/lake_meta", action + " " + glueARN + "table/lake_meta/" + table}
	}
	check(t, &l, len(l.Requests()), func() {
		if err := c.EnsureDatabase(ctx, "meta"); err != nil {
			t.Fatal(err)
		}
	}, "glue:GetDatabase "+glueARN+"catalog", "glue:GetDatabase "+glueARN+"database/lake_meta")
	check(t, &l, len(l.Requests()), func() {
		if err := c.PutTable(ctx, catalogtest.Watermarks()); err != nil {
			t.Fatal(err)
		}
	}, slices.Concat(glue("glue:CreateTable", "watermarks"), glue("glue:GetTable", "watermarks"))...)
	check(t, &l, len(l.Requests()), func() {
		cur, err := c.GetTable(ctx, "meta", "watermarks")
		if err != nil {
			t.Fatal(err)
		}
		cur.Description = "changed"
		if err := c.PutTable(ctx, cur); err != nil {
			t.Fatal(err)
		}
	}, slices.Concat(glue("glue:GetTable", "watermarks"), glue("glue:GetTable", "watermarks"), glue("glue:UpdateTable", "watermarks"))...)
	check(t, &l, len(l.Requests()), func() {
		if _, err := c.ListTables(ctx, "meta"); err != nil {
			t.Fatal(err)
		}
	}, "glue:GetTables "+glueARN+"catalog", "glue:GetTables "+glueARN+"database/lake_meta", "glue:GetTables "+glueARN+"table/lake_meta/*")
}

func testIceberg(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	lake, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	root, err := icebergio.RootURI("file://" + dir)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := icebergio.New(lake, root)
	if err != nil {
		t.Fatal(err)
	}
	var l Log
	cat := icecatalog.New(IcebergBackend(lakepointer.New(fs), account, func(ns string) string { return "lake_" + ns }, &l), fs, icecatalog.Options{})
	glue := func(action string) []string {
		return []string{action + " " + glueARN + "catalog", action + " " + glueARN + "database/lake_silver", action + " " + glueARN + "table/lake_silver/orders"}
	}
	ident := table.Identifier{"silver", "orders"}
	var tbl *table.Table
	check(t, &l, 0, func() {
		schema := iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "order_id", Type: iceberg.PrimitiveTypes.Int64, Required: true})
		if tbl, err = cat.CreateTable(ctx, ident, schema, iceberg.UnpartitionedSpec, table.UnsortedSortOrder, nil); err != nil {
			t.Fatal(err)
		}
	}, slices.Concat([]string{"glue:GetDatabase " + glueARN + "catalog", "glue:GetDatabase " + glueARN + "database/lake_silver"}, glue("glue:CreateTable"))...)
	check(t, &l, len(l.Requests()), func() {
		txn := tbl.NewTransaction()
		if err := txn.SetProperties(iceberg.Properties{"k": "v"}); err != nil {
			t.Fatal(err)
		}
		if _, err := txn.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}, slices.Concat(glue("glue:GetTable"), glue("glue:GetTable"), glue("glue:UpdateTable"))...)
	check(t, &l, len(l.Requests()), func() {
		if _, err := cat.LoadTable(ctx, ident); err != nil {
			t.Fatal(err)
		}
	}, glue("glue:GetTable")...)
}

func testSecrets(t *testing.T) {
	ctx := context.Background()
	client := secretsmanager.New(secretsmanager.Options{
		Region:       account.Region,
		BaseEndpoint: aws.String(testenv.Moto(t)),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	out, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(fmt.Sprintf("lake/%s", testenv.MotoRegion())), SecretString: aws.String("{}")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ARN)
	for _, tc := range []struct {
		description, key string
		want             []string
	}{
		{"a secret under aws/secretsmanager", "", []string{"secretsmanager:GetSecretValue " + arn}},
		{"a secret under a customer-managed key", keyARN, []string{"secretsmanager:GetSecretValue " + arn,
			"kms:Decrypt " + keyARN + " kms:ViaService=secretsmanager.eu-west-1.amazonaws.com"}},
	} {
		t.Run(tc.description, func(t *testing.T) {
			var l Log
			check(t, &l, 0, func() {
				if _, err := Secrets(client, tc.key, account, &l).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}); err != nil {
					t.Fatal(err)
				}
			}, tc.want...)
		})
	}
}

// TestCalls checks the requests each call is logged as, against the real
// local backends (the Iceberg catalog's pointers in the lake standing for
// Glue's; moto_server for Secrets Manager), and that every row
// of calls is exercised.
func TestCalls(t *testing.T) {
	ran := map[string]bool{}
	for _, g := range []struct {
		name string
		test func(*testing.T)
	}{{"store", testStore}, {"catalog", testCatalog}, {"iceberg", testIceberg}, {"secrets", testSecrets}} {
		t.Run(g.name, func(t *testing.T) {
			g.test(t)
			ran[g.name] = !t.Skipped()
		})
	}
	for name := range calls {
		group, _, _ := strings.Cut(name, ".")
		if ran[group] && !seen[name] {
			t.Errorf("no test made the call %s", name)
		}
	}
}
