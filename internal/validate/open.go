package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/dq"
	"github.com/medallionlake/lake/internal/dqdl"
	"github.com/medallionlake/lake/internal/ingest"
	"github.com/medallionlake/lake/internal/store"
)

// Object is one bronze object version, resolved against its table and
// opened (when it is still there and usable).
type Object struct {
	Key   string
	Info  store.ObjectInfo // Info.ETag is normalized (no quotes)
	Table *contract.Table
	Keys  Keys

	// Done, when set, says why there is nothing to do (Verdict Done): the
	// version was routed already, or the object was replaced since the
	// event. Nothing below is set then.
	Done string

	Rules *dqdl.Ruleset
	// TableSchema is the table's schema.json; nil when ingest never wrote
	// one (an object dropped into landing by hand): then only the
	// contract's columns are checked.
	TableSchema *ingest.TableSchema
	// Problem, when set, makes the object unusable: it is quarantined.
	Problem *Problem
	// Source is the open Parquet object (nil when Problem is set).
	Source *dq.ParquetSource
}

// Open resolves in's table and ruleset, finds the object and, when it is
// still in bronze at in.ETag, opens it as Parquet and checks its columns
// against the table's. An unusable object is not an error: it comes back
// with Problem set. Errors: *ObjectKeyError, *UnknownTableError,
// *ObjectNotFoundError, *ContractError, *store.StoreUnavailableError.
func Open(ctx context.Context, d Deps, in Input) (*Object, error) {
	name, err := TableOf(in.Key)
	if err != nil {
		return nil, err
	}
	t, err := contract.Find(d.Tables, name)
	if err != nil {
		return nil, &UnknownTableError{Key: in.Key, Table: name, Err: err}
	}
	o := &Object{Key: in.Key, Table: t}
	wantETag := NormalizeETag(in.ETag)

	info, err := d.Lake.Stat(ctx, in.Key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if wantETag == "" {
			return nil, &ObjectNotFoundError{Key: in.Key}
		}
		o.Keys = KeysFor(t.Name, in.Key, wantETag)
		o.Info = store.ObjectInfo{Key: in.Key, ETag: wantETag, Size: in.Size}
		if _, err := d.Lake.Stat(ctx, o.Keys.RouteRecord()); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, &ObjectNotFoundError{Key: in.Key, ETag: wantETag}
			}
			return nil, StoreError(err, "validate: stat route record of %q", in.Key)
		}
		o.Done = "already routed: duplicate event or retried execution (" + o.Keys.RouteRecord() + ")"
		return o, nil
	case err != nil:
		return nil, StoreError(err, "validate: stat %q", in.Key)
	}
	info.ETag = NormalizeETag(info.ETag)
	o.Info = info
	if wantETag != "" && wantETag != info.ETag {
		o.Keys = KeysFor(t.Name, in.Key, wantETag)
		o.Done = fmt.Sprintf("superseded: the object was replaced since the event (ETag %s, now %s); the new version has its own event", wantETag, info.ETag)
		return o, nil
	}
	o.Keys = KeysFor(t.Name, in.Key, info.ETag)

	// ReadRules, not the OS path: a Lambda's contracts and rulesets are
	// embedded in its binary (contract.LoadFS).
	src, err := t.ReadRules()
	if err == nil {
		o.Rules, err = dqdl.Parse(string(src))
	}
	if err != nil {
		return nil, &ContractError{Table: t.Name, Msg: "load ruleset " + t.RulesPath(), Err: err}
	}
	if o.TableSchema, err = loadTableSchema(ctx, d.Lake, t); err != nil {
		return nil, err
	}
	if err := o.open(ctx, d.Lake); err != nil {
		return nil, err
	}
	return o, nil
}

// loadTableSchema reads _meta/tables/<table>/schema.json (nil if absent).
func loadTableSchema(ctx context.Context, st store.Store, t *contract.Table) (*ingest.TableSchema, error) {
	key := ingest.SchemaKey(t.Name)
	rc, _, err := st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, StoreError(err, "validate: read %q", key)
	}
	defer rc.Close()
	var ts ingest.TableSchema
	dec := json.NewDecoder(io.LimitReader(rc, 16<<20))
	if err := dec.Decode(&ts); err != nil {
		var su *store.StoreUnavailableError
		if errors.As(err, &su) {
			return nil, su
		}
		return nil, &ContractError{Table: t.Name, Msg: "decode " + key, Err: err}
	}
	if len(ts.Columns) == 0 {
		return nil, &ContractError{Table: t.Name, Msg: key + " lists no columns"}
	}
	return &ts, nil
}

// open opens the object as Parquet and checks its columns; what makes it
// unusable goes to o.Problem.
func (o *Object) open(ctx context.Context, st store.Store) error {
	if o.Info.Size == 0 {
		o.Problem = &Problem{Kind: ProblemEmpty, Detail: "the object is empty (0 bytes)"}
		return nil
	}
	r := io.NewSectionReader(store.NewReaderAt(ctx, st, o.Key, o.Info.Size), 0, o.Info.Size)
	src, err := dq.OpenParquet(r)
	if err != nil {
		return o.Unreadable(ctx, st, err)
	}
	if err := o.checkSchema(src.Schema()); err != nil {
		return err
	}
	if o.Problem == nil {
		o.Source = src
	}
	return nil
}

// Unreadable turns err, from reading the object, into o.Problem and
// returns nil when it is a *dq.UnreadableError; a store error comes back
// as *store.StoreUnavailableError or *ObjectNotFoundError (the object
// vanished meanwhile), anything else wrapped.
func (o *Object) Unreadable(ctx context.Context, st store.Store, err error) error {
	var su *store.StoreUnavailableError
	switch {
	case errors.As(err, &su):
		return su
	case errors.Is(err, store.ErrNotFound):
		return &ObjectNotFoundError{Key: o.Key, ETag: o.Info.ETag}
	}
	var ue *dq.UnreadableError
	if !errors.As(err, &ue) {
		return fmt.Errorf("validate: read %q: %w", o.Key, err)
	}
	head, tail, herr := o.magic(ctx, st)
	if herr != nil {
		return herr
	}
	switch {
	case !bytes.HasPrefix(head, []byte("PAR1")):
		o.Problem = &Problem{Kind: ProblemNotParquet, Detail: fmt.Sprintf("not a Parquet file: it does not begin with the magic bytes PAR1 (it begins with %q)", head)}
	case !bytes.Equal(tail, []byte("PAR1")):
		o.Problem = &Problem{Kind: ProblemTruncated, Detail: fmt.Sprintf("truncated Parquet file: %d bytes, no PAR1 footer magic at the end (%v)", o.Info.Size, ue.Err)}
	default:
		o.Problem = &Problem{Kind: ProblemCorrupt, Detail: fmt.Sprintf("corrupt Parquet file: %v", ue.Err)}
	}
	o.Source = nil
	return nil
}

// magic reads the object's first 16 bytes and last 4.
func (o *Object) magic(ctx context.Context, st store.Store) (head, tail []byte, err error) {
	read := func(off, n int64) ([]byte, error) {
		rc, err := st.GetRange(ctx, o.Key, off, n)
		if err != nil {
			return nil, StoreError(err, "validate: read %q", o.Key)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			return nil, StoreError(err, "validate: read %q", o.Key)
		}
		return b, nil
	}
	if head, err = read(0, min(16, o.Info.Size)); err != nil {
		return nil, nil, err
	}
	tail, err = read(max(0, o.Info.Size-4), min(4, o.Info.Size))
	return head, tail, err
}

// checkSchema sets o.Problem when the object's columns do not fit the
// table: every column of the table's schema.json present with the same
// Arrow type, the contract's key, cursor and partition columns present, no
// other column (silver keeps exactly the table's columns; an extra column
// means the object was not written by ingest for the current schema), no
// nested column. Column order does not matter. A partition column of a
// type with no date is the contract's fault: *ContractError.
func (o *Object) checkSchema(sc *arrow.Schema) error {
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
	if ts := o.TableSchema; ts != nil {
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
	if ts := o.TableSchema; ts != nil {
		if typ := want[t.Partition.Column]; typ != "" && !strings.HasPrefix(typ, "timestamp") && !strings.HasPrefix(typ, "date") {
			return &ContractError{Table: t.Name, Msg: fmt.Sprintf("partition column %q is %s in %s; it must be a timestamp or a date", t.Partition.Column, typ, ingest.SchemaKey(t.Name))}
		}
	}
	seen := map[string]bool{}
	for _, f := range sc.Fields() {
		if seen[f.Name] {
			add(ProblemExtraColumn, fmt.Sprintf("column %q appears twice", f.Name))
			continue
		}
		seen[f.Name] = true
		typ, ok := want[f.Name]
		switch {
		case !ok && o.TableSchema != nil:
			add(ProblemExtraColumn, fmt.Sprintf("extra column %q (%s) is not in the table's schema", f.Name, f.Type))
		case isNested(f.Type):
			add(ProblemWrongType, fmt.Sprintf("column %q is nested (%s); lake tables have flat columns", f.Name, f.Type))
		case typ != "" && f.Type.String() != typ:
			add(ProblemWrongType, fmt.Sprintf("column %q is %s, the table's schema says %s", f.Name, f.Type, typ))
		case f.Name == t.Partition.Column && !isDated(f.Type):
			add(ProblemWrongType, fmt.Sprintf("partition column %q is %s, not a timestamp or a date", f.Name, f.Type))
		}
	}
	for _, c := range order {
		if !seen[c] {
			add(ProblemMissingColumn, fmt.Sprintf("missing column %q", c))
		}
	}
	if len(problems) > 0 {
		o.Problem = &Problem{Kind: kind, Detail: strings.Join(problems, "; ")}
	}
	return nil
}

func isNested(t arrow.DataType) bool {
	_, ok := t.(arrow.NestedType)
	return ok
}

func isDated(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64:
		return true
	}
	return false
}

// RulesNow is the instant the rules' now() means for this object: its
// Last-Modified time, so that evaluating one object version always gives
// the same result (a retry, a duplicate event, the route step's own pass).
func (o *Object) RulesNow() time.Time { return o.Info.ModTime.UTC() }

// Evaluate runs the ruleset over the object in one streaming pass that
// reads the rules' columns plus extra; each batch also goes to also when
// it is not nil. It returns the finished evaluator (for Rows) and the
// result. An object that turns out unreadable midway is not an error: it
// sets o.Problem and returns nil, nil, nil.
func (o *Object) Evaluate(ctx context.Context, st store.Store, extra []string, also func(arrow.RecordBatch) error) (*dq.Evaluator, *dq.Result, error) {
	ev, err := dq.NewEvaluator(o.Rules, o.Source.Schema(), dq.Options{Now: o.RulesNow(), ExpectedRows: o.Source.NumRows()})
	if err != nil {
		return nil, nil, fmt.Errorf("validate: %s: %w", o.Key, err)
	}
	cols := projection(o.Source.Schema(), slices.Concat(ev.Columns(), extra))
	err = o.Source.Batches(ctx, cols, func(rec arrow.RecordBatch) error {
		if err := ev.Observe(rec); err != nil {
			return err
		}
		if also != nil {
			return also(rec)
		}
		return nil
	})
	if err != nil {
		if err := o.Unreadable(ctx, st, err); err != nil || o.Problem != nil {
			return nil, nil, err
		}
	}
	res, err := ev.Finish()
	if err != nil {
		return nil, nil, fmt.Errorf("validate: %s: %w", o.Key, err)
	}
	return ev, res, nil
}

// projection returns the distinct names of cols in sc's field order.
func projection(sc *arrow.Schema, cols []string) []string {
	var out []string
	for _, f := range sc.Fields() {
		if slices.Contains(cols, f.Name) && !slices.Contains(out, f.Name) {
			out = append(out, f.Name)
		}
	}
	return out
}

// WriteResult stores the object's ResultRecord at Keys.DQResult.
func (o *Object) WriteResult(ctx context.Context, st store.Store, step string, at time.Time, verdict Verdict, res *dq.Result) error {
	rec := ResultRecord{
		Key: o.Key, ETag: o.Info.ETag, Size: o.Info.Size, Table: o.Table.Name,
		Ruleset: o.Table.RulesPath(), RulesNow: o.RulesNow(), EvaluatedAt: at, Step: step,
		Verdict: verdict, Problem: o.Problem, Result: res,
	}
	return PutJSON(ctx, st, o.Keys.DQResult(), rec)
}

// GetJSON decodes the JSON record at key (as PutJSON writes it) into v.
// It reports false, with no error, when there is no object at key. A
// store failure is returned as StoreError does.
func GetJSON(ctx context.Context, st store.Store, key string, v any) (bool, error) {
	rc, _, err := st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, StoreError(err, "read %q", key)
	}
	defer rc.Close()
	if err := json.NewDecoder(io.LimitReader(rc, 64<<20)).Decode(v); err != nil {
		return false, StoreError(err, "decode %q", key)
	}
	return true, nil
}

// PutJSON stores v at key as JSON on one line ending in a newline: the
// JSON Lines form that Athena's JSON SerDe (the meta.* tables) reads.
func PutJSON(ctx context.Context, st store.Store, key string, v any) error {
	b, err := json.Marshal(v)
	b = append(b, '\n')
	if err != nil {
		return fmt.Errorf("validate: encode %q: %w", key, err)
	}
	if _, err := st.Put(ctx, key, bytes.NewReader(b), &store.PutOptions{ContentType: "application/json"}); err != nil {
		return StoreError(err, "validate: write %q", key)
	}
	return nil
}
