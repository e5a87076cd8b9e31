package gluepointer_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/medallionlake/lake/internal/icebergio"
	"github.com/medallionlake/lake/internal/icecatalog"
	"github.com/medallionlake/lake/internal/icecatalog/gluepointer"
	"github.com/medallionlake/lake/internal/icecatalog/icecatalogtest"
	"github.com/medallionlake/lake/internal/store/storeurl"
	"github.com/medallionlake/lake/internal/testenv"
)

// Environment of a committer process: where its Glue and lake are.
const (
	envEndpoint = "GLUEPOINTER_TEST_GLUE_ENDPOINT"
	envRegion   = "GLUEPOINTER_TEST_GLUE_REGION"
	envLake     = "GLUEPOINTER_TEST_LAKE"
)

func TestMain(m *testing.M) {
	icecatalogtest.Main(m, func(ctx context.Context) (*icecatalog.Catalog, error) {
		client := glueClient(os.Getenv(envEndpoint), os.Getenv(envRegion))
		fs, err := lake(ctx, os.Getenv(envLake))
		if err != nil {
			return nil, err
		}
		return icecatalog.New(gluepointer.New(client, ""), fs, icecatalog.Options{}), nil
	})
}

func glueClient(endpoint, region string) *glue.Client {
	return glue.New(glue.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// lake opens the file system of the lake at lakeURL.
func lake(ctx context.Context, lakeURL string) (*icebergio.FS, error) {
	st, err := storeurl.Open(ctx, lakeURL)
	if err != nil {
		return nil, err
	}
	root, err := icebergio.RootURI(lakeURL)
	if err != nil {
		return nil, err
	}
	return icebergio.New(st, root)
}

// target is Glue on moto_server, in a region of its own, over a lake in a
// fresh versitygw bucket; the client reaches that Glue.
func target(t *testing.T) (icecatalogtest.Target, *glue.Client) {
	endpoint, region := testenv.Moto(t), testenv.MotoRegion()
	cfg := testenv.S3(t)
	env := icecatalogtest.S3Env(cfg)
	icecatalogtest.SetEnv(t, env)
	lakeURL := "s3://" + cfg.Bucket + "/lake"
	fs, err := lake(t.Context(), lakeURL)
	if err != nil {
		t.Fatal(err)
	}
	client := glueClient(endpoint, region)
	return icecatalogtest.Target{
		Backend: gluepointer.New(client, ""),
		FS:      fs.WithContext(t.Context()),
		Spawn:   icecatalogtest.Spawner(append(env, envEndpoint+"="+endpoint, envRegion+"="+region, envLake+"="+lakeURL)),
	}, client
}

func TestConformance(t *testing.T) {
	icecatalogtest.Run(t, func(t *testing.T) icecatalogtest.Target {
		tg, _ := target(t)
		return tg
	})
}

// createAndCommit creates the table ident in cat and commits a property
// change to it; it returns the table as created and as committed.
func createAndCommit(t *testing.T, cat *icecatalog.Catalog, ident table.Identifier, schema *iceberg.Schema) (created, committed *table.Table) {
	t.Helper()
	created, err := cat.CreateTable(t.Context(), ident, schema, iceberg.UnpartitionedSpec, table.UnsortedSortOrder, nil)
	if err != nil {
		t.Fatal(err)
	}
	txn := created.NewTransaction()
	if err := txn.SetProperties(iceberg.Properties{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if committed, err = txn.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	return created, committed
}

// TestStoredShape checks what Athena reads from the Glue table.
func TestStoredShape(t *testing.T) {
	tg, client := target(t)
	cat := icecatalog.New(tg.Backend, tg.FS, icecatalog.Options{})
	schema := iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "order_id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "amount", Type: iceberg.DecimalTypeOf(12, 2)},
		iceberg.NestedField{ID: 3, Name: "created_at", Type: iceberg.PrimitiveTypes.TimestampTz},
		iceberg.NestedField{ID: 4, Name: "tags", Type: &iceberg.ListType{ElementID: 5, Element: iceberg.PrimitiveTypes.String}},
	)
	created, committed := createAndCommit(t, cat, table.Identifier{"silver", "orders"}, schema)
	out, err := client.GetTable(t.Context(), &glue.GetTableInput{DatabaseName: aws.String("silver"), Name: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	gt := out.Table
	checks := []struct{ what, got, want string }{
		{"TableType", aws.ToString(gt.TableType), "EXTERNAL_TABLE"},
		{"table_type", gt.Parameters["table_type"], "ICEBERG"},
		{"metadata_location", gt.Parameters["metadata_location"], committed.MetadataLocation()},
		{"previous_metadata_location", gt.Parameters["previous_metadata_location"], created.MetadataLocation()},
		{"Location", aws.ToString(gt.StorageDescriptor.Location), tg.FS.Location("silver/orders")},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if !strings.HasPrefix(committed.MetadataLocation(), "s3://") {
		t.Errorf("metadata location %q is not an s3:// URI", committed.MetadataLocation())
	}
	var cols []string
	for _, c := range gt.StorageDescriptor.Columns {
		cols = append(cols, aws.ToString(c.Name)+" "+aws.ToString(c.Type))
	}
	want := "order_id bigint, amount decimal(12,2), created_at timestamp, tags array<string>"
	if got := strings.Join(cols, ", "); got != want {
		t.Errorf("columns %q, want %q", got, want)
	}
}

// TestDatabasePrefix: with WithDatabasePrefix the tables of the namespace
// silver live in the Glue database PREFIX_silver (created when missing),
// and loading and committing through the prefixed backend work; the
// table's location keeps the lake's name.
func TestDatabasePrefix(t *testing.T) {
	tg, client := target(t)
	const prefix = "pfx_"
	cat := icecatalog.New(gluepointer.New(client, "", gluepointer.WithDatabasePrefix(prefix)), tg.FS, icecatalog.Options{})
	schema := iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "order_id", Type: iceberg.PrimitiveTypes.Int64, Required: true})
	ident := table.Identifier{"silver", "prefixed"}
	_, committed := createAndCommit(t, cat, ident, schema)
	loaded, err := cat.LoadTable(t.Context(), ident)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := loaded.MetadataLocation(), committed.MetadataLocation(); got != want {
		t.Errorf("loaded at %s, want the commit's %s", got, want)
	}
	out, err := client.GetTable(t.Context(), &glue.GetTableInput{DatabaseName: aws.String(prefix + "silver"), Name: aws.String("prefixed")})
	if err != nil {
		t.Fatalf("the table is not in the Glue database %ssilver: %v", prefix, err)
	}
	if got, want := out.Table.Parameters[gluepointer.ParamMetadataLocation], committed.MetadataLocation(); got != want {
		t.Errorf("Glue's metadata_location = %q, want %q", got, want)
	}
	if got, want := aws.ToString(out.Table.StorageDescriptor.Location), tg.FS.Location("silver/prefixed"); got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if _, err := client.GetTable(t.Context(), &glue.GetTableInput{DatabaseName: aws.String("silver"), Name: aws.String("prefixed")}); err == nil {
		t.Errorf("the table is also in the unprefixed database silver")
	}
}
