// Package localcatalog is the catalog backend kept in the lake itself,
// under _meta/catalog/, for local runs (file:// lakes, or any S3-compatible
// store without a Glue Data Catalog). It is a set of small JSON objects:
//
//	_meta/catalog/databases/<db>.json
//	_meta/catalog/tables/<db>/<table>.json
//
// Concurrent crawls are safe through the store's conditional writes: a
// table is created with IfNoneMatch and replaced with IfMatch on the ETag
// it was read with (its Version); databases are created with IfNoneMatch
// and never rewritten.
package localcatalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/store"
)

var _ catalog.Catalog = (*Catalog)(nil)

// Catalog is a catalog kept in a lake's store.
type Catalog struct {
	s store.Store
}

// New returns the catalog kept in s.
func New(s store.Store) *Catalog { return &Catalog{s: s} }

func databaseKey(db string) string    { return layout.CatalogPrefix + "databases/" + db + ".json" }
func tablesPrefix(db string) string   { return layout.CatalogPrefix + "tables/" + db + "/" }
func tableKey(db, name string) string { return tablesPrefix(db) + name + ".json" }

// EnsureDatabase implements catalog.Catalog.
func (c *Catalog) EnsureDatabase(ctx context.Context, name string) error {
	if err := catalog.ValidName("database", name); err != nil {
		return err
	}
	b, _ := json.Marshal(map[string]string{"name": name})
	if err := c.create(ctx, databaseKey(name), b); err != nil {
		return fmt.Errorf("localcatalog: ensure database %s: %w", name, err)
	}
	return nil
}

// create writes a new object; an existing one is left as it is.
func (c *Catalog) create(ctx context.Context, key string, b []byte) error {
	_, err := c.s.Put(ctx, key, bytes.NewReader(b), &store.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
	if errors.Is(err, store.ErrPreconditionFailed) {
		return nil
	}
	return err
}

// GetTable implements catalog.Catalog.
func (c *Catalog) GetTable(ctx context.Context, database, name string) (*catalog.Table, error) {
	if err := catalog.ValidName("database", database); err != nil {
		return nil, err
	}
	if err := catalog.ValidName("table", name); err != nil {
		return nil, err
	}
	t, err := c.readTable(ctx, tableKey(database, name))
	if err != nil {
		return nil, fmt.Errorf("localcatalog: get table %s.%s: %w", database, name, err)
	}
	return t, nil
}

func (c *Catalog) readTable(ctx context.Context, key string) (*catalog.Table, error) {
	rc, info, err := c.s.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", catalog.ErrNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var t catalog.Table
	if err := json.NewDecoder(io.LimitReader(rc, 16<<20)).Decode(&t); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	t.Version = info.ETag
	return &t, nil
}

// ListTables implements catalog.Catalog.
func (c *Catalog) ListTables(ctx context.Context, database string) ([]*catalog.Table, error) {
	if err := catalog.ValidName("database", database); err != nil {
		return nil, err
	}
	var out []*catalog.Table
	for info, err := range c.s.List(ctx, tablesPrefix(database)) {
		if err != nil {
			return nil, fmt.Errorf("localcatalog: list tables of %s: %w", database, err)
		}
		if !strings.HasSuffix(info.Key, ".json") || strings.Contains(strings.TrimPrefix(info.Key, tablesPrefix(database)), "/") {
			continue
		}
		t, err := c.readTable(ctx, info.Key)
		if errors.Is(err, catalog.ErrNotFound) {
			continue // dropped while listing
		}
		if err != nil {
			return nil, fmt.Errorf("localcatalog: list tables of %s: %w", database, err)
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *catalog.Table) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// PutTable implements catalog.Catalog.
func (c *Catalog) PutTable(ctx context.Context, t *catalog.Table) error {
	if err := t.Validate(); err != nil {
		return err
	}
	wrap := func(err error) error { return fmt.Errorf("localcatalog: put table %s.%s: %w", t.Database, t.Name, err) }
	if _, err := c.s.Stat(ctx, databaseKey(t.Database)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return wrap(fmt.Errorf("database %s: %w", t.Database, catalog.ErrNotFound))
		}
		return wrap(err)
	}
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return wrap(err)
	}
	key := tableKey(t.Database, t.Name)
	opts := &store.PutOptions{IfNoneMatch: t.Version == "", IfMatch: t.Version, ContentType: "application/json"}
	info, err := c.s.Put(ctx, key, bytes.NewReader(b), opts)
	switch {
	case err == nil:
		t.Version = info.ETag
		return nil
	case !errors.Is(err, store.ErrPreconditionFailed):
		return wrap(err)
	}
	cur, gerr := c.readTable(ctx, key)
	switch {
	case errors.Is(gerr, catalog.ErrNotFound):
		if t.Version != "" {
			return wrap(fmt.Errorf("table was dropped: %w", catalog.ErrNotFound))
		}
		return wrap(fmt.Errorf("table changed while writing: %w", catalog.ErrConflict))
	case gerr != nil:
		return wrap(gerr)
	case t.Version == "" && catalog.SameDefinition(cur, t):
		t.Version = cur.Version
		return nil
	case t.Version == "":
		return wrap(fmt.Errorf("table exists with another definition: %w", catalog.ErrConflict))
	default:
		return wrap(fmt.Errorf("table changed since version %s: %w", t.Version, catalog.ErrConflict))
	}
}
