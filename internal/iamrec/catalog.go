package iamrec

import (
	"context"

	"github.com/medallionlake/lake/internal/catalog"
)

// Catalog returns inner with every call logged to log as the IAM requests
// it makes of the Glue Data Catalog of account a. glueName maps the lake's
// database names to the Glue databases that hold them
// (gluecatalog.(*Catalog).DatabaseName; nil: the same names).
func Catalog(inner catalog.Catalog, a Account, glueName func(string) string, log *Log) catalog.Catalog {
	if glueName == nil {
		glueName = func(db string) string { return db }
	}
	return &recCatalog{inner: inner, a: a, glueName: glueName, log: log}
}

type recCatalog struct {
	inner    catalog.Catalog
	a        Account
	glueName func(string) string
	log      *Log
}

var _ catalog.Catalog = (*recCatalog)(nil)

// record logs call on table of database ("" for a call on the database).
func (c *recCatalog) record(call, database, table string) {
	recordGlue(c.log, c.a, call, database, c.glueName(database), table)
}

// recordGlue logs call on table of database (held in the Glue database
// db; table "" for a call on the database) of account a's Glue Data
// Catalog.
func recordGlue(log *Log, a Account, call, database, db, table string) {
	base := "arn:" + a.Partition + ":glue:" + a.Region + ":" + a.ID + ":"
	n := names{catalog: base + "catalog", database: base + "database/" + db, tables: base + "table/" + db + "/*"}
	detail := database
	if table != "" {
		n.table = base + "table/" + db + "/" + table
		detail += "." + table
	}
	log.record(call, detail, n)
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
