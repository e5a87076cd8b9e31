package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/athena"

	"github.com/medallionlake/lake/internal/catalog/localcatalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/pipeline"
	"github.com/medallionlake/lake/internal/query"
	lakeathena "github.com/medallionlake/lake/internal/query/athena"
	"github.com/medallionlake/lake/internal/query/format"
	"github.com/medallionlake/lake/internal/store/storeurl"
	"github.com/medallionlake/lake/queries"
)

func init() {
	register(command{
		name:    "query",
		summary: "SQL over the lake's tables (silver, discarded, meta) on DuckDB, or on Athena; --as-of for time travel",
		run:     runQuery,
	})
}

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "[--format table|csv|json] [--as-of TIME] [--athena --workgroup W] (SQL | --named NAME)"
	fs, g := newFlagSet("query", usage, stderr)
	kind := fs.String("format", "table", "output: table, csv or json")
	useAthena := fs.Bool("athena", false, "run on Amazon Athena instead of the local DuckDB (AWS credentials and region from the environment)")
	workgroup := fs.String("workgroup", envOr("LAKE_ATHENA_WORKGROUP", ""), "Athena workgroup, with --athena (env LAKE_ATHENA_WORKGROUP)")
	dbPrefix := fs.String("database-prefix", envOr(pipeline.EnvGlueDatabasePrefix, ""), "with --athena, the prefix of the deployment's Glue databases: silver is PREFIX"+"silver, ... (the stack output GlueDatabasePrefix; env "+pipeline.EnvGlueDatabasePrefix+")")
	named := fs.String("named", "", "run a named example query: "+strings.Join(queries.Names(), ", "))
	asOfFlag := fs.String("as-of", "", "read silver and discarded as they were at `TIME`: RFC 3339 (2025-01-31T10:00:00Z) or a date (2025-01-31, from 00:00 UTC); within the tables' snapshot retention")
	cache := fs.String("cache", envOr("LAKE_QUERY_CACHE", ""), "folder where the plans of the tables' snapshots are kept and the files of a lake that is not a local folder are mirrored for DuckDB (env LAKE_QUERY_CACHE; default: the user cache folder)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: lake query %s\n\nnamed queries:\n", usage)
		for _, n := range queries.Names() {
			fmt.Fprintf(stderr, "  %-28s %s\n", n, queries.Summary(n))
		}
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	flags, sqlArgs := splitSQLComment(args)
	if err := fs.Parse(flags); err != nil {
		return err
	}
	sql := strings.TrimSpace(strings.Join(append(fs.Args(), sqlArgs...), " "))
	switch {
	case *named != "" && sql != "":
		return errors.New("give either SQL or --named NAME, not both")
	case *named != "":
		var err error
		if sql, err = queries.Get(*named); err != nil {
			return err
		}
	case sql == "":
		fs.Usage()
		return errors.New("no SQL given")
	}
	w, err := format.New(stdout, *kind)
	if err != nil {
		return err
	}
	var asOf time.Time
	if *asOfFlag != "" {
		if asOf, err = query.ParseAsOf(*asOfFlag); err != nil {
			return err
		}
	}
	if *useAthena {
		if *workgroup == "" {
			return errors.New("--athena needs --workgroup (or LAKE_ATHENA_WORKGROUP)")
		}
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return fmt.Errorf("AWS configuration: %w", err)
		}
		r := &lakeathena.Runner{API: athena.NewFromConfig(cfg), Workgroup: *workgroup, Tables: lakeathena.Tables{
			Databases: lakeathena.DatabaseNames(*dbPrefix, layout.Databases...),
			Iceberg:   []string{layout.DatabaseSilver, layout.DatabaseDiscarded},
			AsOf:      asOf,
		}}
		return r.Query(ctx, sql, w)
	}

	names, err := tableNames(g.schemas, stderr)
	if err != nil {
		return err
	}
	st, err := storeurl.Open(ctx, g.lake)
	if err != nil {
		return err
	}
	lake, err := pipeline.OpenIceberg(st, g.lake, nil)
	if err != nil {
		return err
	}
	dir := *cache
	if dir == "" {
		if dir, err = defaultQueryCache(g.lake); err != nil {
			return err
		}
	}
	e, err := query.Open(ctx, lake, localcatalog.New(st), query.Options{Tables: names, AsOf: asOf, CacheDir: dir})
	if err != nil {
		return err
	}
	defer e.Close()
	if !asOf.IsZero() {
		for _, s := range e.Snapshots() {
			switch {
			case s.Err != "":
				fmt.Fprintf(stderr, "lake query: as of %s: %s cannot be read: %s\n", asOf.UTC().Format(time.RFC3339Nano), s.Table, s.Err)
			case s.SnapshotID == 0:
				fmt.Fprintf(stderr, "lake query: as of %s: %s was empty\n", asOf.UTC().Format(time.RFC3339Nano), s.Table)
			default:
				fmt.Fprintf(stderr, "lake query: as of %s: %s at snapshot %d of %s\n", asOf.UTC().Format(time.RFC3339Nano), s.Table, s.SnapshotID, s.Timestamp.Format(time.RFC3339Nano))
			}
		}
	}
	return e.Query(ctx, sql, w)
}

// tableNames are the names of the contract tables in the schemas folder.
// A folder with no contracts leaves only the meta tables, and says so.
func tableNames(schemas string, stderr io.Writer) ([]string, error) {
	if found, _ := filepath.Glob(filepath.Join(schemas, "*"+contract.Suffix)); len(found) == 0 {
		fmt.Fprintf(stderr, "lake query: no table contracts (*%s) in %s: only the meta tables can be read (set --schemas)\n", contract.Suffix, schemas)
		return nil, nil
	}
	tables, err := contract.LoadDir(schemas)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Name
	}
	return names, nil
}

// splitSQLComment splits args where an argument starts with an SQL
// comment ("-- ..."), which the flag package would take for a flag: that
// argument and the rest are SQL.
func splitSQLComment(args []string) (flags, sql []string) {
	for i, a := range args {
		if len(a) > 2 && strings.HasPrefix(a, "--") && strings.ContainsRune(" \t\r\n", rune(a[2])) {
			return args[:i], args[i:]
		}
	}
	return args, nil
}

// defaultQueryCache is a folder of the user cache per lake URL.
func defaultQueryCache(lakeURL string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache folder for the lake's tables (set --cache): %w", err)
	}
	sum := sha256.Sum256([]byte(lakeURL))
	return filepath.Join(base, "lake", "query", hex.EncodeToString(sum[:8])), nil
}
