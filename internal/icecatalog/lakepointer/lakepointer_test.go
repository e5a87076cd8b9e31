package lakepointer_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

// Environment of a committer process (see helper).
const (
	envHelper = "LAKEPOINTER_TEST_COMMITTER"
	envLake   = "LAKEPOINTER_TEST_LAKE"
	envTable  = "LAKEPOINTER_TEST_TABLE"
	envN      = "LAKEPOINTER_TEST_N"
	envLabel  = "LAKEPOINTER_TEST_LABEL"
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

// helper is a committer process: it appends LAKEPOINTER_TEST_N rows to
// the table of the lake named by the environment.
func helper() error {
	ctx := context.Background()
	cat, _, err := open(ctx, os.Getenv(envLake))
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(os.Getenv(envN))
	if err != nil {
		return err
	}
	return icecatalogtest.Committer(ctx, cat, strings.Split(os.Getenv(envTable), "."), n, os.Getenv(envLabel))
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
		Spawn: func(t *testing.T, ident table.Identifier, n int, label string) *exec.Cmd {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), env...)
			cmd.Env = append(cmd.Env, envHelper+"=1", envLake+"="+lakeURL, envTable+"="+strings.Join(ident, "."),
				envN+"="+strconv.Itoa(n), envLabel+"="+label)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			return cmd
		},
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
		return target(t, "s3://"+cfg.Bucket+"/lake", env)
	})
}

func TestHintIsHadoopStyle(t *testing.T) {
	cat, fs, err := open(t.Context(), "file://"+filepath.Join(t.TempDir(), "lake"))
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.CreateTable(t.Context(), icecatalogtest.Ident, icebergSchema(), iceberg.UnpartitionedSpec, table.UnsortedSortOrder, nil)
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

func icebergSchema() *iceberg.Schema {
	return iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64})
}
