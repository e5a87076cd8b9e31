// Package icecatalog is the lake's Apache Iceberg catalog: it knows where
// each table's current metadata file is and is the one way to move a table
// from one metadata file to the next, safely under concurrent commits from
// many goroutines, processes and machines.
//
// Where the pointer to the current metadata file is kept is a Backend, one
// package per backend: icecatalog/lakepointer keeps it in the lake itself
// (metadata/version-hint.text beside the metadata files, changed with
// conditional writes; no server), icecatalog/gluepointer keeps it in the AWS
// Glue Data Catalog as the Iceberg table Athena reads (table_type=ICEBERG,
// metadata_location). One conformance suite, icecatalog/icecatalogtest,
// runs against every backend.
//
// The commit protocol, the same for every backend:
//
//  1. Read the pointer (its location and the backend's version of it) and
//     the metadata file it names; check the commit's requirements against
//     it and apply its updates.
//  2. Claim the next version: write the new metadata as
//     metadata/v<N+1>.metadata.json with If-None-Match. Only one writer can
//     create version N+1, whatever the backend.
//  3. Swap the pointer from the version read to the new file, conditionally
//     (If-Match on version-hint.text; Glue's VersionId).
//
// A writer that loses either race gets an error wrapping
// table.ErrCommitFailed and nothing it wrote is referenced. A writer that
// dies between 2 and 3 leaves a claimed version that blocks the next one;
// the next writer finding it, once it is older than
// Options.RollForwardAfter, completes that commit (the metadata is valid: it
// was built on the current version) and then retries its own. So a
// commit that returned an error may still land: callers find out by looking
// for their snapshot in the table's history (internal/icetable does).
//
// Imported by internal/icetable and, through it, the pipeline and the
// lake command. Pure Go.
package icecatalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"

	"github.com/medallionlake/lake/internal/icebergio"
	"github.com/medallionlake/lake/internal/layout"
	"github.com/medallionlake/lake/internal/store"
)

// ErrNoSuchTable is returned (wrapped) for a table the backend does not have.
var ErrNoSuchTable = errors.New("icecatalog: no such table")

// ErrTableExists is returned (wrapped) when creating a table that exists.
var ErrTableExists = errors.New("icecatalog: table already exists")

// ErrConflict is returned (wrapped) by Backend.Swap when the pointer is no
// longer the one read. The Catalog turns it into table.ErrCommitFailed.
var ErrConflict = errors.New("icecatalog: pointer changed concurrently")

// Table is a table as the backends see it.
type Table struct {
	Namespace string // "silver", "discarded"
	Name      string
	// Location is the table's root URI (its data/ and metadata/ folders
	// are under it).
	Location string
}

// String is namespace.name.
func (t Table) String() string { return t.Namespace + "." + t.Name }

// Pointer is a table's current metadata file as a backend keeps it.
type Pointer struct {
	// Location is the metadata file's URI.
	Location string
	// Version identifies this state of the pointer for Swap (an ETag, a
	// Glue VersionId); opaque to the Catalog.
	Version string
}

// Backend keeps each table's pointer to its current metadata file.
// Implementations must be safe for concurrent use.
type Backend interface {
	// Get returns the table's pointer, or an error wrapping ErrNoSuchTable.
	Get(ctx context.Context, t Table) (Pointer, error)
	// Create records a new table whose first metadata file is location
	// (meta is its content). It returns an error wrapping ErrTableExists
	// when the table exists.
	Create(ctx context.Context, t Table, location string, meta table.Metadata) error
	// Swap points the table at location (whose content is meta) if its
	// pointer is still prev, and otherwise returns an error wrapping
	// ErrConflict and changes nothing. Any other error leaves it unknown
	// whether the pointer moved.
	Swap(ctx context.Context, t Table, prev Pointer, location string, meta table.Metadata) error
}

// DefaultRollForwardAfter is Options.RollForwardAfter when it is 0.
const DefaultRollForwardAfter = 10 * time.Second

// Options tune a Catalog.
type Options struct {
	// RollForwardAfter is how old a claimed, never published metadata
	// version must be before another writer completes its commit (0:
	// DefaultRollForwardAfter, negative: at once). A writer normally
	// publishes its claim milliseconds after making it; waiting keeps two
	// writers from publishing the same version on a backend whose
	// conditional update is not enforced (moto_server's Glue).
	RollForwardAfter time.Duration
}

// Catalog is the lake's Iceberg catalog over one backend. It implements
// iceberg-go's table.CatalogIO, so tables it loads commit through it.
type Catalog struct {
	b    Backend
	fs   *icebergio.FS
	opts Options
}

var _ table.CatalogIO = (*Catalog)(nil)

// New returns a catalog whose pointers b keeps and whose files live in fs.
func New(b Backend, fs *icebergio.FS, opts Options) *Catalog {
	if opts.RollForwardAfter == 0 {
		opts.RollForwardAfter = DefaultRollForwardAfter
	}
	return &Catalog{b: b, fs: fs, opts: opts}
}

// FS is the file system the catalog's tables live in.
func (c *Catalog) FS() *icebergio.FS { return c.fs }

// nameRE is what a namespace or table name may be: it becomes a folder
// name in the lake and a Glue database or table name.
var nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,127}$`)

// Resolve checks ident (namespace, name: lower-case letters, digits and _)
// and returns the table it names, at <lake root>/<namespace>/<name>
// (layout.IcebergLocation).
func (c *Catalog) Resolve(ident table.Identifier) (Table, error) {
	if len(ident) != 2 {
		return Table{}, fmt.Errorf("icecatalog: table %q: want namespace.name", strings.Join(ident, "."))
	}
	for _, part := range ident {
		if !nameRE.MatchString(part) {
			return Table{}, fmt.Errorf("icecatalog: table %q: %q is not a lower-case identifier (a-z, 0-9, _)", strings.Join(ident, "."), part)
		}
	}
	return Table{Namespace: ident[0], Name: ident[1], Location: c.fs.Location(strings.TrimSuffix(layout.IcebergLocation(ident[0], ident[1]), "/"))}, nil
}

// CorruptMetadataError is a metadata file that cannot be read as Iceberg
// table metadata. It names the file.
type CorruptMetadataError struct {
	Table    string
	Location string
	Err      error
}

func (e *CorruptMetadataError) Error() string {
	return fmt.Sprintf("icecatalog: table %s: metadata file %s is corrupt: %v", e.Table, e.Location, e.Err)
}

func (e *CorruptMetadataError) Unwrap() error { return e.Err }

// CreateTable creates an Iceberg v2 table at its location in the lake. It
// returns an error wrapping ErrTableExists when the table exists.
func (c *Catalog) CreateTable(ctx context.Context, ident table.Identifier, schema *iceberg.Schema, spec *iceberg.PartitionSpec, order table.SortOrder, props iceberg.Properties) (*table.Table, error) {
	t, err := c.Resolve(ident)
	if err != nil {
		return nil, err
	}
	if props == nil {
		props = iceberg.Properties{}
	}
	if _, ok := props[table.PropertyFormatVersion]; !ok {
		props[table.PropertyFormatVersion] = "2"
	}
	meta, err := table.NewMetadata(schema, spec, order, t.Location, props)
	if err != nil {
		return nil, fmt.Errorf("icecatalog: create %s: %w", t, err)
	}
	loc := versionLocation(t, 1)
	if err := c.claim(ctx, t, loc, meta); err != nil {
		if !errors.Is(err, store.ErrPreconditionFailed) {
			return nil, fmt.Errorf("icecatalog: create %s: %w", t, err)
		}
		return nil, c.finishCreate(ctx, t, loc)
	}
	if err := c.b.Create(ctx, t, loc, meta); err != nil {
		return nil, fmt.Errorf("icecatalog: create %s: %w", t, err)
	}
	return c.newTable(ident, meta, loc), nil
}

// finishCreate handles a first version that another writer claimed: the
// table exists, is being created, or its creator died before publishing it
// (then, once the claim is old enough, it publishes it). It returns the
// error for the caller of CreateTable.
func (c *Catalog) finishCreate(ctx context.Context, t Table, loc string) error {
	if _, err := c.b.Get(ctx, t); err == nil {
		return fmt.Errorf("icecatalog: create %s: %w", t, ErrTableExists)
	} else if !errors.Is(err, ErrNoSuchTable) {
		return fmt.Errorf("icecatalog: create %s: %w", t, err)
	}
	meta, stale, err := c.readClaim(ctx, t, loc)
	if err != nil {
		return err
	}
	if !stale {
		return fmt.Errorf("icecatalog: create %s: being created concurrently: %w", t, table.ErrCommitFailed)
	}
	if err := c.b.Create(ctx, t, loc, meta); err != nil && !errors.Is(err, ErrTableExists) {
		return fmt.Errorf("icecatalog: create %s: complete an abandoned creation: %w", t, err)
	}
	return fmt.Errorf("icecatalog: create %s: %w", t, ErrTableExists)
}

// LoadTable returns the table at its current metadata. A missing table
// gives an error wrapping ErrNoSuchTable; an unreadable metadata file a
// *CorruptMetadataError.
func (c *Catalog) LoadTable(ctx context.Context, ident table.Identifier) (*table.Table, error) {
	t, err := c.Resolve(ident)
	if err != nil {
		return nil, err
	}
	p, meta, err := c.current(ctx, t)
	if err != nil {
		return nil, err
	}
	return c.newTable(ident, meta, p.Location), nil
}

// CommitTable implements table.CatalogIO with the protocol in the package
// comment. Failed requirements and lost races give errors wrapping
// table.ErrCommitFailed; any other error leaves the outcome unknown.
func (c *Catalog) CommitTable(ctx context.Context, ident table.Identifier, reqs []table.Requirement, updates []table.Update) (table.Metadata, string, error) {
	t, err := c.Resolve(ident)
	if err != nil {
		return nil, "", err
	}
	p, base, err := c.current(ctx, t)
	if err != nil {
		return nil, "", err
	}
	for _, r := range reqs {
		if err := r.Validate(base); err != nil {
			return nil, "", fmt.Errorf("icecatalog: commit %s: %w: %w", t, table.ErrCommitFailed, err)
		}
	}
	meta, err := table.UpdateTableMetadata(base, updates, p.Location)
	if err != nil {
		return nil, "", fmt.Errorf("icecatalog: commit %s: %w", t, err)
	}
	if meta.Equals(base) {
		return base, p.Location, nil
	}
	n, err := version(p.Location)
	if err != nil {
		return nil, "", fmt.Errorf("icecatalog: commit %s: %w", t, err)
	}
	loc := versionLocation(t, n+1)
	if err := c.claim(ctx, t, loc, meta); err != nil {
		if !errors.Is(err, store.ErrPreconditionFailed) {
			return nil, "", fmt.Errorf("icecatalog: commit %s: %w", t, err)
		}
		if err := c.rollForward(ctx, t, p, loc); err != nil {
			return nil, "", err
		}
		return nil, "", fmt.Errorf("icecatalog: commit %s: version %d taken: %w", t, n+1, table.ErrCommitFailed)
	}
	err = c.b.Swap(ctx, t, p, loc, meta)
	if errors.Is(err, ErrConflict) {
		// Version N+1 is ours alone, so the pointer may have moved to it
		// (another writer rolled our claim forward) or past it.
		if landed, lerr := c.landed(ctx, t, loc); lerr == nil && landed {
			return meta, loc, nil
		}
		return nil, "", fmt.Errorf("icecatalog: commit %s: %w: %w", t, table.ErrCommitFailed, err)
	}
	if err != nil {
		return nil, "", fmt.Errorf("icecatalog: commit %s: %w", t, err)
	}
	return meta, loc, nil
}

// rollForward publishes the claimed version at loc if it was built on the
// pointer p, the pointer has not moved and the claim is old enough to be
// taken for abandoned.
func (c *Catalog) rollForward(ctx context.Context, t Table, p Pointer, loc string) error {
	meta, stale, err := c.readClaim(ctx, t, loc)
	if err != nil || !stale {
		return err
	}
	if parent := lastLogEntry(meta); parent != p.Location {
		return fmt.Errorf("icecatalog: table %s: metadata file %s follows %s, not the current %s: the metadata folder is inconsistent", t, loc, parent, p.Location)
	}
	if err := c.b.Swap(ctx, t, p, loc, meta); err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("icecatalog: table %s: complete the abandoned commit %s: %w", t, loc, err)
	}
	return nil
}

// readClaim reads the claimed metadata at loc and says whether it is older
// than RollForwardAfter.
func (c *Catalog) readClaim(ctx context.Context, t Table, loc string) (table.Metadata, bool, error) {
	key, err := c.fs.Key(loc)
	if err != nil {
		return nil, false, err
	}
	info, err := c.fs.Store().Stat(ctx, key)
	if err != nil {
		return nil, false, fmt.Errorf("icecatalog: table %s: %w", t, err)
	}
	if time.Since(info.ModTime) < c.opts.RollForwardAfter {
		return nil, false, nil
	}
	meta, err := c.read(ctx, t, loc)
	if err != nil {
		return nil, false, err
	}
	return meta, true, nil
}

// landed reports whether the metadata file loc is the table's current one
// or in its metadata log.
func (c *Catalog) landed(ctx context.Context, t Table, loc string) (bool, error) {
	p, meta, err := c.current(ctx, t)
	if err != nil {
		return false, err
	}
	if p.Location == loc {
		return true, nil
	}
	for e := range meta.PreviousFiles() {
		if e.MetadataFile == loc {
			return true, nil
		}
	}
	return false, nil
}

// current reads the table's pointer and the metadata it names.
func (c *Catalog) current(ctx context.Context, t Table) (Pointer, table.Metadata, error) {
	p, err := c.b.Get(ctx, t)
	if err != nil {
		return Pointer{}, nil, fmt.Errorf("icecatalog: load %s: %w", t, err)
	}
	meta, err := c.read(ctx, t, p.Location)
	if err != nil {
		return Pointer{}, nil, err
	}
	return p, meta, nil
}

// read reads and parses the metadata file at loc.
func (c *Catalog) read(ctx context.Context, t Table, loc string) (table.Metadata, error) {
	b, err := c.fs.WithContext(ctx).ReadFile(loc)
	if err != nil {
		return nil, fmt.Errorf("icecatalog: table %s: read metadata: %w", t, err)
	}
	meta, err := table.ParseMetadataBytes(b)
	if err != nil {
		return nil, &CorruptMetadataError{Table: t.String(), Location: loc, Err: err}
	}
	if meta.Location() != t.Location {
		return nil, &CorruptMetadataError{Table: t.String(), Location: loc,
			Err: fmt.Errorf("its table location is %q, want %q", meta.Location(), t.Location)}
	}
	return meta, nil
}

// claim writes meta at loc only if nothing is there yet.
func (c *Catalog) claim(ctx context.Context, t Table, loc string, meta table.Metadata) error {
	key, err := c.fs.Key(loc)
	if err != nil {
		return err
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("encode metadata: %w", err)
	}
	_, err = c.fs.Store().Put(ctx, key, bytes.NewReader(b), &store.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
	return err
}

// newTable returns the iceberg-go table committing through c.
func (c *Catalog) newTable(ident table.Identifier, meta table.Metadata, loc string) *table.Table {
	fsF := func(ctx context.Context) (iceio.IO, error) { return c.fs.WithContext(ctx), nil }
	return table.New(ident, meta, loc, fsF, c)
}

// versionLocation is the metadata file of version n of t.
func versionLocation(t Table, n int) string {
	return t.Location + "/metadata/v" + strconv.Itoa(n) + ".metadata.json"
}

// Metadata file names: ours (v<N>.metadata.json, Hadoop-style) and the
// Java library's (<N>-<uuid>.metadata.json, as Athena writes them).
var (
	ourVersionRE  = regexp.MustCompile(`^v(\d{1,9})\.metadata\.json$`)
	javaVersionRE = regexp.MustCompile(`^(\d{1,9})-[0-9a-fA-F-]{36}(?:\.[a-z]+)?\.metadata\.json$`)
)

// version is the version number in a metadata file's name.
func version(loc string) (int, error) {
	name := path.Base(loc)
	for _, re := range []*regexp.Regexp{ourVersionRE, javaVersionRE} {
		if m := re.FindStringSubmatch(name); m != nil {
			return strconv.Atoi(m[1])
		}
	}
	return 0, fmt.Errorf("metadata file %s: no version number in its name", loc)
}

// lastLogEntry is the metadata file that meta was built on.
func lastLogEntry(meta table.Metadata) string {
	last := ""
	for e := range meta.PreviousFiles() {
		last = e.MetadataFile
	}
	return last
}
