package iamrec

import (
	"context"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/layout"
)

// Catalog returns inner with every call logged to log as the IAM requests
// it makes of the Glue Data Catalog of account a. glueName maps the lake's
// database names to the Glue databases that hold them
// (gluecatalog.(*Catalog).DatabaseName; nil: the same names). The result
// keeps the views of a catalog.CurrentViewer.
func Catalog(inner catalog.Catalog, a Account, glueName func(string) string, log *Log) catalog.Catalog {
	if glueName == nil {
		glueName = func(db string) string { return db }
	}
	c := &recCatalog{inner: inner, a: a, glueName: glueName, log: log}
	if v, ok := inner.(catalog.CurrentViewer); ok {
		return &recViewCatalog{recCatalog: c, views: v}
	}
	return c
}

type recCatalog struct {
	inner    catalog.Catalog
	a        Account
	glueName func(string) string
	log      *Log
}

var (
	_ catalog.Catalog       = (*recCatalog)(nil)
	_ catalog.CurrentViewer = (*recViewCatalog)(nil)
)

// record logs call on table of database ("" for a call on the database).
func (c *recCatalog) record(call, database, table string) {
	base := "arn:" + c.a.Partition + ":glue:" + c.a.Region + ":" + c.a.ID + ":"
	db := c.glueName(database)
	n := names{catalog: base + "catalog", database: base + "database/" + db, tables: base + "table/" + db + "/*"}
	detail := database
	if table != "" {
		n.table = base + "table/" + db + "/" + table
		detail += "." + table
	}
	c.log.record(call, detail, n)
}

// EnsureDatabase implements catalog.Catalog.
func (c *recCatalog) EnsureDatabase(ctx context.Context, name string) error {
	c.record("catalog.EnsureDatabase", name, "")
	return c.inner.EnsureDatabase(ctx, name)
}

// GetTable implements catalog.Catalog.
func (c *recCatalog) GetTable(ctx context.Context, database, name string) (*catalog.Table, error) {
	c.record("catalog.GetTable", database, name)
	return c.inner.GetTable(ctx, database, name)
}

// ListTables implements catalog.Catalog.
func (c *recCatalog) ListTables(ctx context.Context, database string) ([]*catalog.Table, error) {
	c.record("catalog.ListTables", database, "")
	return c.inner.ListTables(ctx, database)
}

// PutTable implements catalog.Catalog.
func (c *recCatalog) PutTable(ctx context.Context, t *catalog.Table) error {
	call := "catalog.PutTable update"
	if t.Version == "" {
		call = "catalog.PutTable create"
	}
	c.record(call, t.Database, t.Name)
	return c.inner.PutTable(ctx, t)
}

// AddPartitions implements catalog.Catalog.
func (c *recCatalog) AddPartitions(ctx context.Context, database, table string, parts []catalog.Partition) error {
	c.record("catalog.AddPartitions", database, table)
	return c.inner.AddPartitions(ctx, database, table, parts)
}

// ListPartitions implements catalog.Catalog.
func (c *recCatalog) ListPartitions(ctx context.Context, database, table string) ([]catalog.Partition, error) {
	c.record("catalog.ListPartitions", database, table)
	return c.inner.ListPartitions(ctx, database, table)
}

// recViewCatalog is a recCatalog over a catalog that keeps views.
type recViewCatalog struct {
	*recCatalog
	views catalog.CurrentViewer
}

// PutCurrentView implements catalog.CurrentViewer.
func (c *recViewCatalog) PutCurrentView(ctx context.Context, t *catalog.Table) error {
	c.record("catalog.PutCurrentView", t.Database, layout.CurrentName(t.Name))
	return c.views.PutCurrentView(ctx, t)
}
