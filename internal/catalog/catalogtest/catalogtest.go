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
				if err := c.EnsureDatabase(ctx, "silver"); err != nil {
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
			mustDB(t, c, "silver")
			if _, err := c.GetTable(ctx, "silver", "nope"); !errors.Is(err, catalog.ErrNotFound) {
				t.Fatalf("GetTable(missing) = %v, want ErrNotFound", err)
			}
		}},
		{"CreateAndGet", func(t *testing.T, c catalog.Catalog) {
			mustDB(t, c, "silver")
			want := Orders()
			if err := c.PutTable(ctx, want); err != nil {
				t.Fatalf("PutTable: %v", err)
			}
			if want.Version == "" {
				t.Errorf("PutTable left Version empty")
			}
			got, err := c.GetTable(ctx, "silver", "orders")
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
			mustDB(t, c, "silver")
			mustPut(t, c, Orders())
			if err := c.PutTable(ctx, Orders()); err != nil {
				t.Errorf("PutTable(same definition again) = %v, want success", err)
			}
			other := Orders()
			other.Columns = other.Columns[:2]
			other.PrimaryKey, other.Cursor = nil, ""
			if err := c.PutTable(ctx, other); !errors.Is(err, catalog.ErrConflict) {
				t.Errorf("PutTable(other definition) = %v, want ErrConflict", err)
			}
		}},
		{"UpdateWithVersion", func(t *testing.T, c catalog.Catalog) {
			mustDB(t, c, "silver")
			mustPut(t, c, Orders())
			cur, err := c.GetTable(ctx, "silver", "orders")
			if err != nil {
				t.Fatal(err)
			}
			stale := *cur
			next := *cur
			next.Columns = append(slices.Clone(cur.Columns), catalog.Column{Name: "note", Type: "string"})
			if err := c.PutTable(ctx, &next); err != nil {
				t.Fatalf("PutTable(update) = %v", err)
			}
			got, err := c.GetTable(ctx, "silver", "orders")
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
			if err := c.PutTable(ctx, Orders()); !errors.Is(err, catalog.ErrNotFound) {
				t.Errorf("PutTable(no database) = %v, want ErrNotFound", err)
			}
		}},
		{"PutInvalid", func(t *testing.T, c catalog.Catalog) {
			mustDB(t, c, "silver")
			for _, tc := range []struct {
				description string
				edit        func(*catalog.Table)
			}{
				{"no columns", func(t *catalog.Table) { t.Columns = nil }},
				{"bad column name", func(t *catalog.Table) { t.Columns[0].Name = "Order Id" }},
				{"duplicate column", func(t *catalog.Table) { t.Columns[1].Name = t.Columns[0].Name }},
				{"location without slash", func(t *catalog.Table) { t.Location = "silver/staging/orders" }},
				{"unknown format", func(t *catalog.Table) { t.Format = "csv" }},
				{"cursor not a column", func(t *catalog.Table) { t.Cursor = "nope" }},
				{"files pattern with a folder", func(t *catalog.Table) { t.Files = "a/*.json" }},
			} {
				t.Run(tc.description, func(t *testing.T) {
					tab := Orders()
					tc.edit(tab)
					if err := c.PutTable(ctx, tab); !errors.Is(err, catalog.ErrInvalid) {
						t.Errorf("PutTable = %v, want ErrInvalid", err)
					}
				})
			}
		}},
		{"MetaTable", func(t *testing.T, c catalog.Catalog) {
			mustDB(t, c, "meta")
			want := &catalog.Table{
				Database: "meta", Name: "executions", Location: "_meta/executions/", Format: catalog.FormatJSON, Files: "execution.json",
				Columns: []catalog.Column{{Name: "name", Type: "string"}, {Name: "input", Type: "struct<table:string,parts:array<bigint>>"}},
			}
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
			mustDB(t, c, "silver")
			mustDB(t, c, "meta")
			for _, name := range []string{"orders", "customers", "zebra"} {
				tab := Orders()
				tab.Name = name
				tab.Location = "silver/staging/" + name + "/"
				mustPut(t, c, tab)
			}
			meta := Orders()
			meta.Database = "meta"
			mustPut(t, c, meta)
			got, err := c.ListTables(ctx, "silver")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tab := range got {
				names = append(names, tab.Name)
				if tab.Version == "" || tab.Database != "silver" {
					t.Errorf("table %s: database %q version %q", tab.Name, tab.Database, tab.Version)
				}
			}
			if want := []string{"customers", "orders", "zebra"}; !slices.Equal(names, want) {
				t.Errorf("ListTables = %v, want %v", names, want)
			}
		}},
		{"Partitions", func(t *testing.T, c catalog.Catalog) {
			mustDB(t, c, "silver")
			if err := c.AddPartitions(ctx, "silver", "orders", []catalog.Partition{part("2024-01-01")}); !errors.Is(err, catalog.ErrNotFound) {
				t.Errorf("AddPartitions(missing table) = %v, want ErrNotFound", err)
			}
			mustPut(t, c, Orders())
			if got, err := c.ListPartitions(ctx, "silver", "orders"); err != nil || len(got) != 0 {
				t.Errorf("ListPartitions(new table) = %v, %v; want none", got, err)
			}
			if err := c.AddPartitions(ctx, "silver", "orders", []catalog.Partition{part("2024-01-02"), part("2024-01-01")}); err != nil {
				t.Fatalf("AddPartitions: %v", err)
			}
			// Again, overlapping: existing partitions are success.
			if err := c.AddPartitions(ctx, "silver", "orders", []catalog.Partition{part("2024-01-01"), part("2024-01-03")}); err != nil {
				t.Fatalf("AddPartitions(again): %v", err)
			}
			got, err := c.ListPartitions(ctx, "silver", "orders")
			if err != nil {
				t.Fatal(err)
			}
			want := []catalog.Partition{part("2024-01-01"), part("2024-01-02"), part("2024-01-03")}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("ListPartitions = %v, want %v", got, want)
			}
			bad := catalog.Partition{Values: []string{"a", "b"}, Location: "silver/staging/orders/x/"}
			if err := c.AddPartitions(ctx, "silver", "orders", []catalog.Partition{bad}); !errors.Is(err, catalog.ErrInvalid) {
				t.Errorf("AddPartitions(2 values for 1 key) = %v, want ErrInvalid", err)
			}
		}},
		{"ManyPartitions", func(t *testing.T, c catalog.Catalog) {
			mustDB(t, c, "silver")
			mustPut(t, c, Orders())
			var parts []catalog.Partition
			for i := range 250 {
				parts = append(parts, part(fmt.Sprintf("2023-%02d-%02d", i/28+1, i%28+1)))
			}
			if err := c.AddPartitions(ctx, "silver", "orders", parts); err != nil {
				t.Fatalf("AddPartitions(250): %v", err)
			}
			got, err := c.ListPartitions(ctx, "silver", "orders")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(parts) {
				t.Errorf("ListPartitions: %d partitions, want %d", len(got), len(parts))
			}
		}},
		{"ConcurrentUpdates", func(t *testing.T, c catalog.Catalog) {
			if !opts.AtomicUpdates {
				t.Skip("the test server does not apply version-conditional updates atomically")
			}
			mustDB(t, c, "silver")
			mustPut(t, c, Orders())
			const writers = 6
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for i := range writers {
				wg.Go(func() {
					_, err := catalog.Update(ctx, c, "silver", "orders", func(cur *catalog.Table) (*catalog.Table, error) {
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
			got, err := c.GetTable(ctx, "silver", "orders")
			if err != nil {
				t.Fatal(err)
			}
			if n, want := len(got.Columns), len(Orders().Columns)+writers; n != want {
				t.Errorf("after %d concurrent updates: %d columns, want %d (an update was lost)", writers, n, want)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newCatalog(t)) })
	}
}

// Orders is a sample silver table definition.
func Orders() *catalog.Table {
	return &catalog.Table{
		Database:    "silver",
		Name:        "orders",
		Description: "valid orders",
		Location:    "silver/staging/orders/",
		Format:      catalog.FormatParquet,
		Columns: []catalog.Column{
			{Name: "order_id", Type: "bigint"},
			{Name: "customer_id", Type: "bigint"},
			{Name: "status", Type: "string"},
			{Name: "amount", Type: "decimal(12,2)"},
			{Name: "currency", Type: "string"},
			{Name: "created_at", Type: "timestamp"},
			{Name: "updated_at", Type: "timestamp"},
		},
		PartitionKeys: []catalog.Column{{Name: "dt", Type: "date"}},
		PrimaryKey:    []string{"order_id"},
		Cursor:        "updated_at",
	}
}

func part(day string) catalog.Partition {
	return catalog.Partition{Values: []string{day}, Location: "silver/staging/orders/dt=" + day + "/"}
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
