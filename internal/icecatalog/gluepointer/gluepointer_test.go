package gluepointer_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
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

// Environment of a committer process (see helper).
const (
	envHelper   = "GLUEPOINTER_TEST_COMMITTER"
	envEndpoint = "GLUEPOINTER_TEST_GLUE_ENDPOINT"
	envRegion   = "GLUEPOINTER_TEST_GLUE_REGION"
	envLake     = "GLUEPOINTER_TEST_LAKE"
	envTable    = "GLUEPOINTER_TEST_TABLE"
	envN        = "GLUEPOINTER_TEST_N"
	envLabel    = "GLUEPOINTER_TEST_LABEL"
)

func TestMain(m *testing.M) {
	if os.Getenv(envHelper) == "1" {
		if err := helper(); err != nil {
			fmt.Fprintln(os.Stderr, "committer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	testenv.Main(m)
}

func glueClient(endpoint, region string) *glue.Client {
	return glue.New(glue.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// open returns the catalog over Glue at endpoint (in region) and the lake
// at lakeURL.
func open(ctx context.Context, endpoint, region, lakeURL string) (*gluepointer.Backend, *icebergio.FS, error) {
	st, err := storeurl.Open(ctx, lakeURL)
	if err != nil {
		return nil, nil, err
	}
	root, err := icebergio.RootURI(lakeURL)
	if err != nil {
		return nil, nil, err
	}
	fs, err := icebergio.New(st, root)
	if err != nil {
		return nil, nil, err
	}
	return gluepointer.New(glueClient(endpoint, region), ""), fs, nil
}

func helper() error {
	ctx := context.Background()
	b, fs, err := open(ctx, os.Getenv(envEndpoint), os.Getenv(envRegion), os.Getenv(envLake))
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(os.Getenv(envN))
	if err != nil {
		return err
	}
	cat := icecatalog.New(b, fs, icecatalog.Options{})
	return icecatalogtest.Committer(ctx, cat, strings.Split(os.Getenv(envTable), "."), n, os.Getenv(envLabel))
}

// target is Glue on moto_server, in a region of its own, over a lake in a
// fresh versitygw bucket; the client reaches that Glue.
func target(t *testing.T) (icecatalogtest.Target, *glue.Client) {
	endpoint := testenv.Moto(t)
	region := testenv.MotoRegion()
	cfg := testenv.S3(t)
	env := []string{
		storeurl.EnvS3Endpoint + "=" + cfg.Endpoint,
		"AWS_ACCESS_KEY_ID=" + cfg.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + cfg.SecretKey,
		"AWS_REGION=" + cfg.Region,
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	lakeURL := "s3://" + cfg.Bucket + "/lake"
	b, fs, err := open(t.Context(), endpoint, region, lakeURL)
	if err != nil {
		t.Fatal(err)
	}
	return icecatalogtest.Target{
		Backend: b,
		FS:      fs.WithContext(t.Context()),
		Spawn: func(t *testing.T, ident table.Identifier, n int, label string) *exec.Cmd {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), env...)
			cmd.Env = append(cmd.Env, envHelper+"=1", envEndpoint+"="+endpoint, envRegion+"="+region, envLake+"="+lakeURL,
				envTable+"="+strings.Join(ident, "."), envN+"="+strconv.Itoa(n), envLabel+"="+label)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			return cmd
		},
	}, glueClient(endpoint, region)
}

func TestConformance(t *testing.T) {
	icecatalogtest.Run(t, func(t *testing.T) icecatalogtest.Target {
		tg, _ := target(t)
		return tg
	})
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
	created, err := cat.CreateTable(t.Context(), table.Identifier{"silver", "orders"}, schema, iceberg.UnpartitionedSpec, table.UnsortedSortOrder, nil)
	if err != nil {
		t.Fatal(err)
	}
	txn := created.NewTransaction()
	if err := txn.SetProperties(iceberg.Properties{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	committed, err := txn.Commit(t.Context())
	if err != nil {
		t.Fatal(err)
	}

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
