package lakepointer_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/medallionlake/lake/internal/icebergio"
	"github.com/medallionlake/lake/internal/icecatalog"
	"github.com/medallionlake/lake/internal/icecatalog/icecatalogtest"
	"github.com/medallionlake/lake/internal/icecatalog/lakepointer"
	"github.com/medallionlake/lake/internal/store/storeurl"
	"github.com/medallionlake/lake/internal/testenv"
)

// envLake names the lake of a committer process.
const envLake = "LAKEPOINTER_TEST_LAKE"

func TestMain(m *testing.M) {
	icecatalogtest.Main(m, func(ctx context.Context) (*icecatalog.Catalog, error) {
		cat, _, err := open(ctx, os.Getenv(envLake))
		return cat, err
	})
}

// open returns the catalog of the lake at lakeURL.
func open(ctx context.Context, lakeURL string) (*icecatalog.Catalog, *icebergio.FS, error) {
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
	return icecatalog.New(lakepointer.New(fs), fs, icecatalog.Options{}), fs, nil
}

// target opens the lake at lakeURL; env is what a child process needs
// besides it to reach the same lake.
func target(t *testing.T, lakeURL string, env []string) icecatalogtest.Target {
	_, fs, err := open(t.Context(), lakeURL)
	if err != nil {
		t.Fatal(err)
	}
	return icecatalogtest.Target{
		Backend: lakepointer.New(fs),
		FS:      fs.WithContext(t.Context()),
		Spawn:   icecatalogtest.Spawner(append(env, envLake+"="+lakeURL)),
	}
}

func TestConformanceFolder(t *testing.T) {
	icecatalogtest.Run(t, func(t *testing.T) icecatalogtest.Target {
		return target(t, "file://"+filepath.Join(t.TempDir(), "lake"), nil)
	})
}

func TestConformanceS3(t *testing.T) {
	icecatalogtest.Run(t, func(t *testing.T) icecatalogtest.Target {
		cfg := testenv.S3(t)
		env := icecatalogtest.S3Env(cfg)
		icecatalogtest.SetEnv(t, env)
		return target(t, "s3://"+cfg.Bucket+"/lake", env)
	})
}

func TestHintIsHadoopStyle(t *testing.T) {
	cat, fs, err := open(t.Context(), "file://"+filepath.Join(t.TempDir(), "lake"))
	if err != nil {
		t.Fatal(err)
	}
	schema := iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64})
	tbl, err := cat.CreateTable(t.Context(), icecatalogtest.Ident, schema, iceberg.UnpartitionedSpec, table.UnsortedSortOrder, nil)
	if err != nil {
		t.Fatal(err)
	}
	hint, err := fs.WithContext(t.Context()).ReadFile(tbl.Location() + "/metadata/" + lakepointer.HintFile)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(hint), "1"; got != want {
		t.Errorf("version-hint.text holds %q, want %q", got, want)
	}
	if got, want := tbl.MetadataLocation(), tbl.Location()+"/metadata/v1.metadata.json"; got != want {
		t.Errorf("metadata file %q, want %q", got, want)
	}
}
