// Package bronze resolves and opens one version of one bronze object
// (bronze/landing/<table>/...): its table contract, whether it is still
// there at the version an event names, its columns checked against the
// table's (_meta/tables/<table>/schema.json), and why it is unusable when
// it is (a Problem: empty, not Parquet, truncated, corrupt, wrong
// columns). It also holds the named errors the validate and route steps
// return for an object, which the state machine matches by type name.
//
// Imported by the validate and route steps. docs/route.md describes the
// bad-input rules.
package bronze

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icetable"
	"github.com/medallionlake/lake/internal/lakeparquet"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/store"
)

// Problem kinds: why an object is unusable.
const (
	ProblemEmpty         = "empty"          // zero bytes
	ProblemNotParquet    = "not_parquet"    // no Parquet magic (CSV, JSON, anything else)
	ProblemTruncated     = "truncated"      // starts like Parquet, footer missing
	ProblemCorrupt       = "corrupt"        // footer or pages cannot be decoded
	ProblemMissingColumn = "missing_column" // a table or contract column is absent
	ProblemWrongType     = "wrong_type"     // a column's type differs from the table's
	ProblemExtraColumn   = "extra_column"   // a column the table does not have
)

// Problem says why an object is unusable: it is quarantined whole.
type Problem struct {
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

func (p *Problem) String() string { return p.Kind + ": " + p.Detail }

// Object is one bronze object version, resolved against its table.
type Object struct {
	Key   string
	Info  store.ObjectInfo // Info.ETag is normalized (no quotes)
	Table *contract.Table
	Keys  layout.Keys

	// Gone is set when the object is no longer in bronze at the version
	// asked for: Superseded says it was replaced by another version
	// (which has its own event); otherwise it was deleted, once its
	// outputs were committed. Nothing below is set then.
	Gone, Superseded bool

	// Schema is the table's schema.json; nil when ingest never wrote one
	// (objects dropped into landing by hand): then only the contract's
	// columns are checked.
	Schema *layout.TableSchema
}

// Deps are what opening an object needs.
type Deps struct {
	// Lake is the lake's store.
	Lake store.Store
	// Tables are the table contracts.
	Tables []*contract.Table
}

// Find resolves key's table and looks the object up at etag (empty: the
// version there now). An object that is gone or superseded is not an
// error: it comes back with Gone set. Errors: *ObjectKeyError,
// *UnknownTableError, *ContractError (a malformed schema.json),
// *store.StoreUnavailableError.
func Find(ctx context.Context, d Deps, key, etag string) (*Object, error) {
	if err := store.ValidateKey(key); err != nil {
		return nil, &ObjectKeyError{Key: key, Msg: err.Error()}
	}
	name, err := layout.TableOf(key)
	if err != nil {
		return nil, &ObjectKeyError{Key: key, Msg: err.Error()}
	}
	t, err := contract.Find(d.Tables, name)
	if err != nil {
		return nil, &UnknownTableError{Key: key, Table: name, Err: err}
	}
	o := &Object{Key: key, Table: t}
	want := store.NormalizeETag(etag)
	info, err := d.Lake.Stat(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		o.Gone = true
		o.Info = store.ObjectInfo{Key: key, ETag: want}
	case err != nil:
		return nil, store.Wrap(err, "bronze: stat %q", key)
	default:
		info.ETag = store.NormalizeETag(info.ETag)
		o.Info = info
		if want != "" && want != info.ETag {
			o.Gone, o.Superseded = true, true
			o.Info = store.ObjectInfo{Key: key, ETag: want}
		}
	}
	o.Keys = layout.KeysFor(t.Name, key, o.Info.ETag)
	if o.Gone {
		return o, nil
	}
	if o.Schema, err = layout.ReadSchema(ctx, d.Lake, t.Name); err != nil {
		var se *layout.SchemaError
		if errors.As(err, &se) {
			return nil, &ContractError{Table: t.Name, Msg: "table schema", Err: err}
		}
		return nil, err
	}
	return o, nil
}

// RulesNow is the instant the rules' now() means for this object: its
// Last-Modified time, so that evaluating one object version always gives
// the same result (a retry, a duplicate event).
func (o *Object) RulesNow() time.Time { return o.Info.ModTime.UTC() }

// Open opens the object as Parquet (its footer) and checks its columns
// against the table's. An unusable object is not an error: Open returns
// a nil reader and the Problem. Errors: *ContractError (the table's
// partition column has a type its transform cannot take), *catalog.ColumnNameError (column names
// the catalog cannot hold), *ObjectNotFoundError (the object vanished
// meanwhile), *store.StoreUnavailableError.
func (o *Object) Open(ctx context.Context, st store.Store, opts lakeparquet.ReadOptions) (*lakeparquet.Reader, *Problem, error) {
	if o.Info.Size == 0 {
		return nil, &Problem{Kind: ProblemEmpty, Detail: "the object is empty (0 bytes)"}, nil
	}
	r := io.NewSectionReader(store.NewReaderAt(ctx, st, o.Key, o.Info.Size), 0, o.Info.Size)
	src, err := lakeparquet.Open(r, opts)
	if err != nil {
		p, err := o.Unreadable(ctx, st, err)
		return nil, p, err
	}
	if err := o.checkNames(src.Schema()); err != nil {
		return nil, nil, err
	}
	p, err := o.checkSchema(src.Schema())
	if err != nil || p != nil {
		return nil, p, err
	}
	return src, nil, nil
}

// checkNames returns a *catalog.ColumnNameError when the columns the table
// keeps (its schema.json's, else the object's) have names the catalog
// cannot hold: nothing is written for the object, which stays in bronze.
func (o *Object) checkNames(sc *arrow.Schema) error {
	var names []string
	if o.Schema != nil {
		for _, c := range o.Schema.Columns {
			names = append(names, c.Name)
		}
	} else {
		for _, f := range sc.Fields() {
			names = append(names, f.Name)
		}
	}
	return catalog.CheckColumnNames(o.Table.Name, names)
}

// Unreadable classifies err, from reading the object: a
// *lakeparquet.UnreadableError makes the object unusable (the Problem
// says how: not Parquet, truncated or corrupt), but only once the object
// is found unchanged since it was opened (*ObjectChangedError otherwise);
// a failure to read (a reset, a timeout, a short read) comes back as
// *store.StoreUnavailableError, or *ObjectNotFoundError when the object
// vanished; anything else wrapped.
func (o *Object) Unreadable(ctx context.Context, st store.Store, err error) (*Problem, error) {
	var su *store.StoreUnavailableError
	switch {
	case errors.As(err, &su):
		return nil, su
	case errors.Is(err, store.ErrNotFound):
		return nil, &ObjectNotFoundError{Key: o.Key, ETag: o.Info.ETag}
	}
	var ue *lakeparquet.UnreadableError
	if !errors.As(err, &ue) {
		return nil, fmt.Errorf("bronze: read %q: %w", o.Key, err)
	}
	head, tail, err := o.magic(ctx, st)
	if err != nil {
		return nil, err
	}
	// A read of bytes that changed under it proves nothing about the
	// object: only a stable object is called unusable.
	if err := o.CheckUnchanged(ctx, st); err != nil {
		return nil, err
	}
	switch {
	case !bytes.HasPrefix(head, []byte("PAR1")):
		return &Problem{Kind: ProblemNotParquet, Detail: fmt.Sprintf("not a Parquet file: it does not begin with the magic bytes PAR1 (it begins with %q)", head)}, nil
	case !bytes.Equal(tail, []byte("PAR1")):
		return &Problem{Kind: ProblemTruncated, Detail: fmt.Sprintf("truncated Parquet file: %d bytes, no PAR1 footer magic at the end (%v)", o.Info.Size, ue.Err)}, nil
	}
	return &Problem{Kind: ProblemCorrupt, Detail: fmt.Sprintf("corrupt Parquet file: %v", ue.Err)}, nil
}

// magic reads the object's first 16 bytes and last 4.
func (o *Object) magic(ctx context.Context, st store.Store) (head, tail []byte, err error) {
	read := func(off, n int64) ([]byte, error) {
		rc, err := st.GetRange(ctx, o.Key, off, n)
		if err != nil {
			return nil, store.Wrap(err, "bronze: read %q", o.Key)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			return nil, store.Wrap(err, "bronze: read %q", o.Key)
		}
		return b, nil
	}
	if head, err = read(0, min(16, o.Info.Size)); err != nil {
		return nil, nil, err
	}
	tail, err = read(max(0, o.Info.Size-4), min(4, o.Info.Size))
	return head, tail, err
}

// checkSchema returns the Problem of an object whose columns do not fit
// the table: every column of the table's schema.json present with the
// same Arrow type, the contract's key, cursor and partition columns
// present, no other column (silver keeps exactly the table's columns; an
// extra column means the object was not written by ingest for the
// current schema), no nested column. Column order does not matter. A
// partition column of a type the contract's transform cannot take
// (icetable.CanPartition) is the contract's fault when the table's
// schema.json gives it that type: *ContractError.
func (o *Object) checkSchema(sc *arrow.Schema) (*Problem, error) {
	var problems []string
	kind := ""
	add := func(k, msg string) {
		if kind == "" {
			kind = k
		}
		problems = append(problems, msg)
	}
	want := map[string]string{} // column -> Arrow type ("" = any)
	var order []string
	if ts := o.Schema; ts != nil {
		for _, c := range ts.Columns {
			want[c.Name] = c.Arrow
			order = append(order, c.Name)
		}
	}
	t := o.Table
	for _, c := range slices.Concat(t.PrimaryKey, []string{t.Cursor, t.Partition.Column}) {
		if _, ok := want[c]; !ok {
			want[c] = ""
			order = append(order, c)
		}
	}
	seen := map[string]bool{}
	for _, f := range sc.Fields() {
		if seen[f.Name] {
			add(ProblemExtraColumn, fmt.Sprintf("column %q appears twice", f.Name))
			continue
		}
		seen[f.Name] = true
		if d, ok := f.Type.(*arrow.DictionaryType); ok { // read as dictionaries (lakeparquet.ReadOptions)
			f.Type = d.ValueType
		}
		typ, ok := want[f.Name]
		switch {
		case !ok && o.Schema != nil:
			add(ProblemExtraColumn, fmt.Sprintf("extra column %q (%s) is not in the table's schema", f.Name, f.Type))
		case isNested(f.Type):
			add(ProblemWrongType, fmt.Sprintf("column %q is nested (%s); lake tables have flat columns", f.Name, f.Type))
		case typ != "" && f.Type.String() != typ:
			add(ProblemWrongType, fmt.Sprintf("column %q is %s, the table's schema says %s", f.Name, f.Type, typ))
		case f.Name == t.Partition.Column && !icetable.CanPartition(t.Partition.Transform, f.Type):
			if typ != "" { // the type the table's schema.json gives it: the contract's fault
				return nil, &ContractError{Table: t.Name, Msg: fmt.Sprintf("partition column %q is %s in %s; %s", t.Partition.Column, typ, layout.SchemaKey(t.Name), partitionNeeds(t.Partition.Transform))}
			}
			add(ProblemWrongType, fmt.Sprintf("partition column %q is %s; %s", f.Name, f.Type, partitionNeeds(t.Partition.Transform)))
		}
	}
	for _, c := range order {
		if !seen[c] {
			add(ProblemMissingColumn, fmt.Sprintf("missing column %q", c))
		}
	}
	if len(problems) > 0 {
		return &Problem{Kind: kind, Detail: strings.Join(problems, "; ")}, nil
	}
	return nil, nil
}

func isNested(t arrow.DataType) bool {
	_, ok := t.(arrow.NestedType)
	return ok
}

// partitionNeeds says what type the transform tr needs.
func partitionNeeds(tr contract.Transform) string {
	if tr.Buckets() > 0 {
		return string(tr) + " needs a column of an integer, decimal, string, binary, date or timestamp type"
	}
	return "it must be a timestamp or a date"
}

// Columns are the table's columns in its order: the schema.json's, else
// the object's (sc).
func (o *Object) Columns(sc *arrow.Schema) []arrow.Field {
	var names []string
	if ts := o.Schema; ts != nil {
		for _, c := range ts.Columns {
			names = append(names, c.Name)
		}
	} else {
		for _, f := range sc.Fields() {
			names = append(names, f.Name)
		}
	}
	fields := make([]arrow.Field, len(names))
	for i, name := range names {
		f := sc.Field(sc.FieldIndices(name)[0])
		fields[i] = arrow.Field{Name: f.Name, Type: f.Type, Nullable: f.Nullable}
	}
	return fields
}

// CheckUnchanged returns *ObjectChangedError when the object is no longer
// the version o was opened at: everything read from it since may mix two
// versions, so nothing derived from it may be committed.
func (o *Object) CheckUnchanged(ctx context.Context, st store.Store) error {
	info, err := st.Stat(ctx, o.Key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &ObjectChangedError{Key: o.Key, ETag: o.Info.ETag}
	case err != nil:
		return store.Wrap(err, "bronze: stat %q", o.Key)
	case store.NormalizeETag(info.ETag) != o.Info.ETag:
		return &ObjectChangedError{Key: o.Key, ETag: o.Info.ETag, Now: store.NormalizeETag(info.ETag)}
	}
	return nil
}
