// Package catalogtest is the conformance suite every catalog backend
// passes: localcatalog on a file store, gluecatalog against moto_server.
// Imported only by tests.
package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/medallionlake/lake/internal/catalog"
)

// Options say what a backend's test server can show.
type Options struct {
	// AtomicUpdates runs the concurrent-update test, which needs the server
	// to apply a version-conditional update atomically. Real Glue does
	// (UpdateTable's VersionId); moto_server does not check VersionId.
	AtomicUpdates bool
}

// Run runs the suite; newCatalog returns an empty catalog for each subtest.
func Run(t *testing.T, opts Options, newCatalog func(t *testing.T) catalog.Catalog) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, c catalog.Catalog)
	}{
		{"EnsureDatabaseIdempotent", func(t *testing.T, c catalog.Catalog) {
			for range 2 {
				if err := c.EnsureDatabase(ctx, "meta"); err != nil {
					t.Fatalf("EnsureDatabase: %v", err)
				}
			}
		}},
		{"EnsureDatabaseBadName", func(t *testing.T, c catalog.Catalog) {
			if err := c.EnsureDatabase(ctx, "Bad-Name"); !errors.Is(err, catalog.ErrInvalid) {
				t.Fatalf("EnsureDatabase(Bad-Name) = %v, want ErrInvalid", err)
			}
		}},
		{"GetMissingTable", func(t *testing.T, c catalog.Catalog) {
			mustDB(t, c, "meta")
			if _, err := c.GetTable(ctx, "meta", "nope"); !errors.Is(err, catalog.ErrNotFound) {
				t.Fatalf("GetTable(missing) = %v, want ErrNotFound", err)
			}
		}},
		{"CreateAndGet", func(t *testing.T, c catalog.Catalog) {
			mustDB(t, c, "meta")
			want := Watermarks()
			if err := c.PutTable(ctx, want); err != nil {
				t.Fatalf("PutTable: %v", err)
			}
			if want.Version == "" {
				t.Errorf("PutTable left Version empty")
			}
			got, err := c.GetTable(ctx, "meta", "watermarks")
			if err != nil {
				t.Fatalf("GetTable: %v", err)
			}
			if !catalog.SameDefinition(got, want) {
				t.Errorf("GetTable = %+v, want %+v", got, want)
			}
			if got.Version == "" {
				t.Errorf("GetTable: Version empty")
			}
		}},
		{"CreateTwice", func(t *testing.T, c catalog.Catalog) {
			mustDB(t, c, "meta")
			mustPut(t, c, Watermarks())
			if err := c.PutTable(ctx, Watermarks()); err != nil {
				t.Errorf("PutTable(same definition again) = %v, want success", err)
			}
			other := Watermarks()
			other.Columns = other.Columns[:2]
			if err := c.PutTable(ctx, other); !errors.Is(err, catalog.ErrConflict) {
				t.Errorf("PutTable(other definition) = %v, want ErrConflict", err)
			}
		}},
		{"UpdateWithVersion", func(t *testing.T, c catalog.Catalog) {
			mustDB(t, c, "meta")
			mustPut(t, c, Watermarks())
			cur, err := c.GetTable(ctx, "meta", "watermarks")
			if err != nil {
				t.Fatal(err)
			}
			stale := *cur
			next := *cur
			next.Columns = append(slices.Clone(cur.Columns), catalog.Column{Name: "note", Type: "string"})
			if err := c.PutTable(ctx, &next); err != nil {
				t.Fatalf("PutTable(update) = %v", err)
			}
			got, err := c.GetTable(ctx, "meta", "watermarks")
			if err != nil {
				t.Fatal(err)
			}
			if got.Version == stale.Version {
				t.Errorf("Version unchanged by update: %q", got.Version)
			}
			if !catalog.SameDefinition(got, &next) {
				t.Errorf("after update: %+v, want %+v", got, next)
			}
			stale.Description = "stale writer"
			if err := c.PutTable(ctx, &stale); !errors.Is(err, catalog.ErrConflict) {
				t.Errorf("PutTable(stale version) = %v, want ErrConflict", err)
			}
		}},
		{"PutInMissingDatabase", func(t *testing.T, c catalog.Catalog) {
			if err := c.PutTable(ctx, Watermarks()); !errors.Is(err, catalog.ErrNotFound) {
				t.Errorf("PutTable(no database) = %v, want ErrNotFound", err)
			}
		}},
		{"PutInvalid", func(t *testing.T, c catalog.Catalog) {
			mustDB(t, c, "meta")
			for _, tc := range []struct {
				description string
				edit        func(*catalog.Table)
			}{
				{"no columns", func(t *catalog.Table) { t.Columns = nil }},
				{"bad column name", func(t *catalog.Table) { t.Columns[0].Name = "Order Id" }},
				{"duplicate column", func(t *catalog.Table) { t.Columns[1].Name = t.Columns[0].Name }},
				{"location without slash", func(t *catalog.Table) { t.Location = "_meta/watermarks/history" }},
				{"unknown format", func(t *catalog.Table) { t.Format = "csv" }},
				{"column without a type", func(t *catalog.Table) { t.Columns[1].Type = "" }},
				{"files pattern with a folder", func(t *catalog.Table) { t.Files = "a/*.json" }},
			} {
				t.Run(tc.description, func(t *testing.T) {
					tab := Watermarks()
					tc.edit(tab)
					if err := c.PutTable(ctx, tab); !errors.Is(err, catalog.ErrInvalid) {
						t.Errorf("PutTable = %v, want ErrInvalid", err)
					}
				})
			}
		}},
		{"FilesPattern", func(t *testing.T, c catalog.Catalog) {
			mustDB(t, c, "meta")
			want := Executions()
			mustPut(t, c, want)
			got, err := c.GetTable(ctx, "meta", "executions")
			if err != nil {
				t.Fatal(err)
			}
			if !catalog.SameDefinition(got, want) {
				t.Errorf("GetTable = %+v, want %+v", got, want)
			}
		}},
		{"ListTables", func(t *testing.T, c catalog.Catalog) {
			if got, err := c.ListTables(ctx, "nodb"); err != nil || len(got) != 0 {
				t.Errorf("ListTables(missing database) = %v, %v; want empty", got, err)
			}
			mustDB(t, c, "meta")
			mustDB(t, c, "other")
			for _, name := range []string{"watermarks", "dq_results", "zebra"} {
				tab := Watermarks()
				tab.Name = name
				tab.Location = "_meta/" + name + "/"
				mustPut(t, c, tab)
			}
			other := Watermarks()
			other.Database = "other"
			mustPut(t, c, other)
			got, err := c.ListTables(ctx, "meta")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tab := range got {
				names = append(names, tab.Name)
				if tab.Version == "" || tab.Database != "meta" {
					t.Errorf("table %s: database %q version %q", tab.Name, tab.Database, tab.Version)
				}
			}
			if want := []string{"dq_results", "watermarks", "zebra"}; !slices.Equal(names, want) {
				t.Errorf("ListTables = %v, want %v", names, want)
			}
		}},
		{"ConcurrentUpdates", func(t *testing.T, c catalog.Catalog) {
			if !opts.AtomicUpdates {
				t.Skip("the test server does not apply version-conditional updates atomically")
			}
			mustDB(t, c, "meta")
			mustPut(t, c, Watermarks())
			const writers = 6
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for i := range writers {
				wg.Go(func() {
					_, err := catalog.Update(ctx, c, "meta", "watermarks", func(cur *catalog.Table) (*catalog.Table, error) {
						next := *cur
						next.Columns = append(slices.Clone(cur.Columns), catalog.Column{Name: fmt.Sprintf("extra_%d", i), Type: "string"})
						return &next, nil
					})
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("Update: %v", err)
				}
			}
			got, err := c.GetTable(ctx, "meta", "watermarks")
			if err != nil {
				t.Fatal(err)
			}
			if n, want := len(got.Columns), len(Watermarks().Columns)+writers; n != want {
				t.Errorf("after %d concurrent updates: %d columns, want %d (an update was lost)", writers, n, want)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newCatalog(t)) })
	}
}

// Watermarks is a sample meta table definition: JSON records, every object
// under its location.
func Watermarks() *catalog.Table {
	return &catalog.Table{
		Database:    "meta",
		Name:        "watermarks",
		Description: "every watermark advance of every table",
		Location:    "_meta/watermarks/history/",
		Format:      catalog.FormatJSON,
		Columns: []catalog.Column{
			{Name: "table", Type: "string"},
			{Name: "cursor", Type: "string"},
			{Name: "watermark", Type: "struct<us:string,utc:string>"},
			{Name: "previous", Type: "struct<us:string,utc:string>"},
			{Name: "rows", Type: "bigint"},
			{Name: "keys", Type: "array<string>"},
			{Name: "counts", Type: "map<string,bigint>"},
		},
	}
}

// Executions is a sample meta table definition whose records are only
// the objects named execution.json under its location.
func Executions() *catalog.Table {
	return &catalog.Table{
		Database: "meta", Name: "executions", Location: "_meta/executions/", Format: catalog.FormatJSON, Files: "execution.json",
		Columns: []catalog.Column{{Name: "name", Type: "string"}, {Name: "input", Type: "struct<table:string,parts:array<bigint>>"}},
	}
}

func mustDB(t *testing.T, c catalog.Catalog, name string) {
	t.Helper()
	if err := c.EnsureDatabase(context.Background(), name); err != nil {
		t.Fatalf("EnsureDatabase(%s): %v", name, err)
	}
}

func mustPut(t *testing.T, c catalog.Catalog, tab *catalog.Table) {
	t.Helper()
	if err := c.PutTable(context.Background(), tab); err != nil {
		t.Fatalf("PutTable(%s.%s): %v", tab.Database, tab.Name, err)
	}
}
