package iamrec

import (
	"context"

	"github.com/apache/iceberg-go/table"

	"github.com/medallionlake/lake/internal/icecatalog"
)

// IcebergBackend returns inner, the Iceberg catalog's backend on the Glue
// Data Catalog of account a (icecatalog/gluepointer), with every call
// logged to log as the IAM requests it makes. glueName maps the lake's
// namespaces (silver, discarded) to the Glue databases that hold them
// (nil: the same names). The table files go through the lake's store:
// wrap that with Store.
func IcebergBackend(inner icecatalog.Backend, a Account, glueName func(string) string, log *Log) icecatalog.Backend {
	if glueName == nil {
		glueName = func(ns string) string { return ns }
	}
	return &recBackend{inner: inner, a: a, glueName: glueName, log: log}
}

type recBackend struct {
	inner    icecatalog.Backend
	a        Account
	glueName func(string) string
	log      *Log
}

var _ icecatalog.Backend = (*recBackend)(nil)

func (b *recBackend) record(call string, t icecatalog.Table) {
	recordGlue(b.log, b.a, call, t.Namespace, b.glueName(t.Namespace), t.Name)
}

// Get implements icecatalog.Backend.
func (b *recBackend) Get(ctx context.Context, t icecatalog.Table) (icecatalog.Pointer, error) {
	b.record("iceberg.Get", t)
	return b.inner.Get(ctx, t)
}

// Create implements icecatalog.Backend.
func (b *recBackend) Create(ctx context.Context, t icecatalog.Table, location string, meta table.Metadata) error {
	b.record("iceberg.Create", t)
	return b.inner.Create(ctx, t, location, meta)
}

// Swap implements icecatalog.Backend.
func (b *recBackend) Swap(ctx context.Context, t icecatalog.Table, prev icecatalog.Pointer, location string, meta table.Metadata) error {
	b.record("iceberg.Swap", t)
	return b.inner.Swap(ctx, t, prev, location, meta)
}
