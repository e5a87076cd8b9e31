// Package lakepointer is the icecatalog backend with no server: each
// table's pointer is the object <table>/metadata/version-hint.text in the
// lake, holding the current version number N (the metadata file is
// <table>/metadata/vN.metadata.json beside it). This is the layout of
// Iceberg's Hadoop tables, so other Iceberg readers (Spark's Hadoop
// catalog, DuckDB's iceberg_scan) can read the tables too.
//
// Create writes the hint with If-None-Match and Swap with If-Match on the
// ETag read, so both are atomic on every store backend: a local folder
// (flock-guarded renames, many processes on one host) and S3 or an
// S3-compatible server (conditional PutObject).
package lakepointer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go/table"

	"github.com/medallionlake/lake/internal/icebergio"
	"github.com/medallionlake/lake/internal/icecatalog"
	"github.com/medallionlake/lake/internal/store"
)

// HintFile is the pointer's name in a table's metadata folder.
const HintFile = "version-hint.text"

var _ icecatalog.Backend = (*Backend)(nil)

// Backend keeps pointers in the lake that fs addresses.
type Backend struct {
	fs *icebergio.FS
}

// New returns the backend for the lake behind fs.
func New(fs *icebergio.FS) *Backend { return &Backend{fs: fs} }

// Open returns the catalog of the Iceberg tables of the lake st at lakeURL
// (file://DIR or s3://BUCKET[/PREFIX], the lake command's --lake), with
// their pointers kept in the lake.
func Open(st store.Store, lakeURL string, opts icecatalog.Options) (*icecatalog.Catalog, error) {
	root, err := icebergio.RootURI(lakeURL)
	if err != nil {
		return nil, err
	}
	fs, err := icebergio.New(st, root)
	if err != nil {
		return nil, err
	}
	return icecatalog.New(New(fs), fs, opts), nil
}

// hintKey is the store key of t's version hint.
func (b *Backend) hintKey(t icecatalog.Table) (string, error) {
	key, err := b.fs.Key(t.Location + "/metadata/" + HintFile)
	if err != nil {
		return "", fmt.Errorf("lakepointer: table %s: %w", t, err)
	}
	return key, nil
}

// Get implements icecatalog.Backend.
func (b *Backend) Get(ctx context.Context, t icecatalog.Table) (icecatalog.Pointer, error) {
	key, err := b.hintKey(t)
	if err != nil {
		return icecatalog.Pointer{}, err
	}
	rc, info, err := b.fs.Store().Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return icecatalog.Pointer{}, fmt.Errorf("lakepointer: table %s: %w", t, icecatalog.ErrNoSuchTable)
	}
	if err != nil {
		return icecatalog.Pointer{}, fmt.Errorf("lakepointer: table %s: %w", t, err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, 64))
	if err != nil {
		return icecatalog.Pointer{}, fmt.Errorf("lakepointer: table %s: read %s: %w", t, key, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || n < 1 {
		return icecatalog.Pointer{}, fmt.Errorf("lakepointer: table %s: %s holds %q, not a version number", t, key, raw)
	}
	return icecatalog.Pointer{
		Location: t.Location + "/metadata/v" + strconv.Itoa(n) + ".metadata.json",
		Version:  info.ETag,
	}, nil
}

// Create implements icecatalog.Backend.
func (b *Backend) Create(ctx context.Context, t icecatalog.Table, location string, _ table.Metadata) error {
	err := b.put(ctx, t, location, &store.PutOptions{IfNoneMatch: true})
	if errors.Is(err, store.ErrPreconditionFailed) {
		return fmt.Errorf("lakepointer: create %s: %w", t, icecatalog.ErrTableExists)
	}
	return err
}

// Swap implements icecatalog.Backend.
func (b *Backend) Swap(ctx context.Context, t icecatalog.Table, prev icecatalog.Pointer, location string, _ table.Metadata) error {
	err := b.put(ctx, t, location, &store.PutOptions{IfMatch: prev.Version})
	if errors.Is(err, store.ErrPreconditionFailed) {
		return fmt.Errorf("lakepointer: swap %s: %w: %w", t, icecatalog.ErrConflict, err)
	}
	return err
}

var hintedRE = regexp.MustCompile(`^v([1-9][0-9]{0,8})\.metadata\.json$`)

// put writes the version of location (which must be vN.metadata.json in
// t's metadata folder) to t's hint with opts.
func (b *Backend) put(ctx context.Context, t icecatalog.Table, location string, opts *store.PutOptions) error {
	name, ok := strings.CutPrefix(location, t.Location+"/metadata/")
	m := hintedRE.FindStringSubmatch(name)
	if !ok || m == nil {
		return fmt.Errorf("lakepointer: table %s: %s is not a vN.metadata.json file in its metadata folder", t, location)
	}
	key, err := b.hintKey(t)
	if err != nil {
		return err
	}
	opts.ContentType = "text/plain"
	if _, err := b.fs.Store().Put(ctx, key, strings.NewReader(m[1]), opts); err != nil {
		return fmt.Errorf("lakepointer: table %s: write %s: %w", t, key, err)
	}
	return nil
}
