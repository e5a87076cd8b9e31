package icetable

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/icecatalog"
	"github.com/medallionlake/lake/internal/layout"
)

// Kind is one of the three Iceberg tables of a contract table.
type Kind string

// The kinds of table.
const (
	Silver    Kind = "silver"
	Current   Kind = "current"
	Discarded Kind = "discarded"
)

// Kinds are the three kinds of table of a contract table, in the order
// the lake writes, maintains and lists them.
var Kinds = []Kind{Silver, Current, Discarded}

// Ident is the catalog identifier of the kind of table of the contract
// table named name: silver.<name>, silver.<name>_current or
// discarded.<name> (lower-cased, as Glue stores names).
func Ident(kind Kind, name string) (table.Identifier, error) {
	switch kind {
	case Silver:
		return table.Identifier{layout.DatabaseSilver, layout.CatalogName(name)}, nil
	case Current:
		return table.Identifier{layout.DatabaseSilver, layout.CurrentName(name)}, nil
	case Discarded:
		return table.Identifier{layout.DatabaseDiscarded, layout.CatalogName(name)}, nil
	}
	return nil, fmt.Errorf("icetable: unknown table kind %q", kind)
}

// Defaults for Options' zero fields.
const (
	// DefaultTargetFileSize is the data file size writes and compaction
	// aim at; AWS recommends files of about 128 MB or more for Athena.
	DefaultTargetFileSize = 128 << 20
	// DefaultRowGroupBytes bounds the Parquet row group a writer builds in
	// memory per open partition.
	DefaultRowGroupBytes = 16 << 20
	// DefaultMaxAttempts is how many times a commit is tried before a
	// *CommitConflictError.
	DefaultMaxAttempts = 30
)

// Options tune a Lake. The zero value means the defaults.
type Options struct {
	TargetFileSize int64
	RowGroupBytes  int64
	MaxAttempts    int
	// MinRetryWait and MaxRetryWait bound the randomised, growing wait
	// between commit attempts (defaults 20 ms and 2 s).
	MinRetryWait, MaxRetryWait time.Duration
}

func (o Options) withDefaults() Options {
	if o.TargetFileSize <= 0 {
		o.TargetFileSize = DefaultTargetFileSize
	}
	if o.RowGroupBytes <= 0 {
		o.RowGroupBytes = DefaultRowGroupBytes
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MinRetryWait <= 0 {
		o.MinRetryWait = 20 * time.Millisecond
	}
	if o.MaxRetryWait <= 0 {
		o.MaxRetryWait = 2 * time.Second
	}
	return o
}

// Lake is the lake's Iceberg tables behind one catalog. It is safe for
// concurrent use.
type Lake struct {
	cat  *icecatalog.Catalog
	opts Options
}

// New returns the tables of cat.
func New(cat *icecatalog.Catalog, opts Options) *Lake {
	return &Lake{cat: cat, opts: opts.withDefaults()}
}

// Catalog is the catalog the tables live in.
func (l *Lake) Catalog() *icecatalog.Catalog { return l.cat }

// Table properties the lake sets.
const (
	propPrimaryKey = "lake.primary-key"
	propCursor     = "lake.cursor"
	propKind       = "lake.kind"
)

// Snapshot summary properties of a commit.
const (
	SummaryObjectKey  = "lake.object.key"
	SummaryObjectETag = "lake.object.etag"
)

// load loads the table ident.
func (l *Lake) load(ctx context.Context, ident table.Identifier) (*table.Table, error) {
	tbl, err := l.cat.LoadTable(ctx, ident)
	if err != nil {
		return nil, fmt.Errorf("icetable: %w", err)
	}
	return tbl, nil
}

// ensure returns the kind of table of t, created if it does not exist and
// evolved to take the columns of sc (see evolve).
func (l *Lake) ensure(ctx context.Context, kind Kind, t *contract.Table, sc *arrow.Schema) (*table.Table, error) {
	ident, err := Ident(kind, t.Name)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		tbl, err := l.cat.LoadTable(ctx, ident)
		if errors.Is(err, icecatalog.ErrNoSuchTable) {
			tbl, err = l.create(ctx, ident, kind, t, sc)
		}
		if err == nil {
			tbl, err = l.evolve(ctx, tbl, sc)
		}
		if err == nil || !retryable(err) || attempt >= l.opts.MaxAttempts {
			return tbl, err
		}
		if err := l.wait(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// retryable reports whether err is a lost race worth another attempt.
func retryable(err error) bool {
	return errors.Is(err, table.ErrCommitFailed) || errors.Is(err, icecatalog.ErrTableExists)
}

// wait sleeps before attempt+1: a random time up to a bound that doubles
// with each attempt (full jitter).
func (l *Lake) wait(ctx context.Context, attempt int) error {
	bound := l.opts.MinRetryWait << min(attempt, 20)
	bound = min(bound, l.opts.MaxRetryWait)
	t := time.NewTimer(time.Duration(rand.Int64N(int64(bound)) + 1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// create creates the kind of table of t with the columns of sc.
func (l *Lake) create(ctx context.Context, ident table.Identifier, kind Kind, t *contract.Table, sc *arrow.Schema) (*table.Table, error) {
	schema, err := icebergSchema(sc)
	if err != nil {
		return nil, fmt.Errorf("icetable: create %s: %w", strings.Join(ident, "."), err)
	}
	spec := iceberg.UnpartitionedSpec
	if kind != Current {
		if spec, err = partitionSpec(schema, t.Partition); err != nil {
			return nil, fmt.Errorf("icetable: create %s: %w", strings.Join(ident, "."), err)
		}
	}
	props := iceberg.Properties{
		table.PropertyFormatVersion:               "2",
		table.WriteTargetFileSizeBytesKey:         strconv.FormatInt(l.opts.TargetFileSize, 10),
		table.ParquetRowGroupSizeBytesKey:         strconv.FormatInt(l.opts.RowGroupBytes, 10),
		table.ParquetCompressionKey:               "zstd",
		table.MaxSnapshotAgeMsKey:                 strconv.FormatInt(time.Duration(t.SnapshotRetention).Milliseconds(), 10),
		table.MetadataDeleteAfterCommitEnabledKey: "true",
		table.MetadataPreviousVersionsMaxKey:      "100",
		propKind:                                  string(kind),
		propPrimaryKey:                            strings.Join(t.PrimaryKey, ","),
		propCursor:                                t.Cursor,
		table.WriteDeleteModeKey:                  table.WriteModeMergeOnRead,
	}
	for _, c := range append(append([]string{}, t.PrimaryKey...), t.Cursor) {
		if _, ok := schema.FindFieldByName(c); !ok {
			return nil, fmt.Errorf("icetable: create %s: the contract's column %q is not in the object", strings.Join(ident, "."), c)
		}
	}
	tbl, err := l.cat.CreateTable(ctx, ident, schema, spec, table.UnsortedSortOrder, props)
	if err != nil {
		return nil, fmt.Errorf("icetable: %w", err)
	}
	return tbl, nil
}

// transform is the Iceberg transform of the contract's transform tr.
func transform(tr contract.Transform) (iceberg.Transform, error) {
	switch tr {
	case contract.TransformDay:
		return iceberg.DayTransform{}, nil
	case contract.TransformMonth:
		return iceberg.MonthTransform{}, nil
	case contract.TransformYear:
		return iceberg.YearTransform{}, nil
	}
	if n := tr.Buckets(); n > 0 {
		return iceberg.BucketTransform{NumBuckets: n}, nil
	}
	return nil, fmt.Errorf("unknown partition transform %q", tr)
}

// CanPartition says whether the contract's partition transform tr applies
// to a column of Arrow type dt, as Iceberg decides it when the table is
// created.
func CanPartition(tr contract.Transform, dt arrow.DataType) bool {
	t, err := transform(tr)
	if err != nil {
		return false
	}
	it, err := table.ArrowTypeToIceberg(dt, true)
	return err == nil && t.CanTransform(it)
}

// partitionSpec is the spec of p over schema.
func partitionSpec(schema *iceberg.Schema, p contract.Partition) (*iceberg.PartitionSpec, error) {
	f, ok := schema.FindFieldByName(p.Column)
	if !ok {
		return nil, fmt.Errorf("partition column %q is not in the object", p.Column)
	}
	tr, err := transform(p.Transform)
	if err != nil {
		return nil, err
	}
	if !tr.CanTransform(f.Type) {
		return nil, fmt.Errorf("partition transform %s cannot apply to column %q of type %s", p.Transform, p.Column, f.Type)
	}
	name := p.Column + "_" + strings.TrimSuffix(strings.SplitN(string(p.Transform), "[", 2)[0], "]")
	spec := iceberg.NewPartitionSpec(iceberg.PartitionField{
		SourceIDs: []int{f.ID}, FieldID: 1000, Name: name, Transform: tr,
	})
	return &spec, nil
}
