package layout

import (
	"context"
	"errors"
	"fmt"

	"github.com/medallionlake/lake/internal/store"
)

// SchemaKey is the key of the columns a table was last extracted with.
func SchemaKey(table string) string { return MetaPrefix + "tables/" + table + "/schema.json" }

// TableSchema is the content of _meta/tables/<table>/schema.json: the
// columns bronze objects of the table have, written by ingest on every
// run.
type TableSchema struct {
	Table      string         `json:"table"`
	Source     string         `json:"source"`
	PrimaryKey []string       `json:"primary_key"`
	Cursor     string         `json:"cursor"`
	Columns    []ColumnSchema `json:"columns"`
}

// ColumnSchema is one column of a TableSchema: its PostgreSQL type and
// the Arrow type it is extracted as.
type ColumnSchema struct {
	Name     string `json:"name"`
	Type     string `json:"type"`  // PostgreSQL type, e.g. numeric(12,2)
	Arrow    string `json:"arrow"` // Arrow type, e.g. decimal128(12, 2)
	Nullable bool   `json:"nullable"`
}

// Column returns the named column, or false.
func (ts *TableSchema) Column(name string) (ColumnSchema, bool) {
	for _, c := range ts.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return ColumnSchema{}, false
}

// SchemaError means a table's schema.json cannot be used.
type SchemaError struct {
	Key string
	Msg string
	Err error
}

func (e *SchemaError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("layout: %s: %s", e.Key, e.Msg)
	}
	return fmt.Sprintf("layout: %s: %s: %v", e.Key, e.Msg, e.Err)
}

func (e *SchemaError) Unwrap() error { return e.Err }

// ReadSchema reads table's schema.json. It returns nil, nil when there is
// none (ingest never ran for the table: objects were dropped into landing
// by hand), a *store.StoreUnavailableError when the store fails, and a
// *SchemaError when the record is malformed or lists no columns.
func ReadSchema(ctx context.Context, st store.Store, table string) (*TableSchema, error) {
	key := SchemaKey(table)
	var ts TableSchema
	_, found, err := store.GetJSON(ctx, st, key, &ts)
	switch {
	case err != nil:
		var re *store.RecordError
		if errors.As(err, &re) {
			return nil, &SchemaError{Key: key, Msg: "does not decode", Err: err}
		}
		return nil, err
	case !found:
		return nil, nil
	case len(ts.Columns) == 0:
		return nil, &SchemaError{Key: key, Msg: "lists no columns"}
	case ts.Table != table:
		return nil, &SchemaError{Key: key, Msg: fmt.Sprintf("names table %q", ts.Table)}
	}
	return &ts, nil
}
