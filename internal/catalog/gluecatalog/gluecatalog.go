// Package gluecatalog is the catalog backend for AWS: the Glue Data
// Catalog, through aws-sdk-go-v2/service/glue. The meta tables are
// EXTERNAL_TABLEs over the lake's _meta/ prefixes, JSON read with the
// OpenX JSON SerDe (the SerDe Athena documents for JSON), unpartitioned.
// Every write is idempotent: AlreadyExistsException is success.
//
// A table's file-name glob is kept in its Parameters as lake.files.
//
// The lake's databases keep their names (silver, discarded, meta) in the
// catalog.Catalog interface; WithDatabasePrefix stores them in Glue under a
// prefix (lake_silver, ...) so that several lakes share one account and
// Region.
package gluecatalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/medallionlake/lake/internal/catalog"
	"github.com/medallionlake/lake/internal/layout"
)

var _ catalog.Catalog = (*Catalog)(nil)

// paramFiles is the table parameter that keeps catalog.Table.Files.
const paramFiles = "lake.files"

// Serialization of each format, as Athena expects it.
var formats = map[catalog.Format]struct{ input, output, serde string }{
	catalog.FormatJSON: {
		"org.apache.hadoop.mapred.TextInputFormat",
		"org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
		"org.openx.data.jsonserde.JsonSerDe",
	},
}

// viewType is the Glue table type of an Athena view.
const viewType = "VIRTUAL_VIEW"

// Catalog is the Glue Data Catalog of one AWS account and region.
type Catalog struct {
	client   *glue.Client
	root     string // s3://bucket[/prefix], no trailing slash
	dbPrefix string
}

// Option configures a Catalog.
type Option func(*Catalog)

// WithDatabasePrefix stores each of the lake's databases as the Glue
// database prefix+name (with prefix "lake_": lake_silver, lake_discarded,
// lake_meta). Tables, errors and the catalog.Catalog methods keep the
// lake's names; Glue requests use the prefixed ones.
func WithDatabasePrefix(prefix string) Option {
	return func(c *Catalog) { c.dbPrefix = prefix }
}

// New returns the catalog behind client for the lake at root
// (s3://BUCKET[/PREFIX]): lake-relative locations are stored as
// root/location.
func New(client *glue.Client, root string, opts ...Option) (*Catalog, error) {
	if !strings.HasPrefix(root, "s3://") || len(root) <= len("s3://") {
		return nil, fmt.Errorf("gluecatalog: lake root %q is not an s3:// URL", root)
	}
	c := &Catalog{client: client, root: strings.TrimSuffix(root, "/")}
	for _, o := range opts {
		o(c)
	}
	if c.dbPrefix != "" {
		for _, db := range layout.Databases {
			if err := catalog.ValidName("database", c.dbPrefix+db); err != nil {
				return nil, fmt.Errorf("gluecatalog: database prefix %q: %w", c.dbPrefix, err)
			}
		}
	}
	return c, nil
}

// DatabaseName is the Glue database that holds the lake's database name.
func (c *Catalog) DatabaseName(name string) string { return c.dbPrefix + name }

func (c *Catalog) s3Location(rel string) string { return c.root + "/" + rel }

func (c *Catalog) relLocation(loc string) (string, error) {
	rel, ok := strings.CutPrefix(loc, c.root+"/")
	if !ok {
		return "", fmt.Errorf("location %q is outside the lake %s", loc, c.root)
	}
	return rel, nil
}

// EnsureDatabase implements catalog.Catalog: GetDatabase, then
// CreateDatabase when it is missing (AlreadyExistsException from a
// concurrent crawl is success).
func (c *Catalog) EnsureDatabase(ctx context.Context, name string) error {
	if err := catalog.ValidName("database", name); err != nil {
		return err
	}
	// Look first: a deployment that creates the databases itself need not
	// grant glue:CreateDatabase.
	_, err := c.client.GetDatabase(ctx, &glue.GetDatabaseInput{Name: aws.String(c.DatabaseName(name))})
	if err == nil {
		return nil
	}
	if !isA[*types.EntityNotFoundException](err) {
		return fmt.Errorf("gluecatalog: get database %s: %w", name, err)
	}
	_, err = c.client.CreateDatabase(ctx, &glue.CreateDatabaseInput{
		DatabaseInput: &types.DatabaseInput{Name: aws.String(c.DatabaseName(name))},
	})
	if err != nil && !isA[*types.AlreadyExistsException](err) {
		return fmt.Errorf("gluecatalog: create database %s: %w", name, err)
	}
	return nil
}

// GetTable implements catalog.Catalog.
func (c *Catalog) GetTable(ctx context.Context, database, name string) (*catalog.Table, error) {
	out, err := c.client.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(c.DatabaseName(database)), Name: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("gluecatalog: get table %s.%s: %w", database, name, mapErr(err))
	}
	t, err := c.fromGlue(database, out.Table)
	if err != nil {
		return nil, fmt.Errorf("gluecatalog: get table %s.%s: %w", database, name, err)
	}
	return t, nil
}

// ListTables implements catalog.Catalog.
func (c *Catalog) ListTables(ctx context.Context, database string) ([]*catalog.Table, error) {
	var out []*catalog.Table
	p := glue.NewGetTablesPaginator(c.client, &glue.GetTablesInput{DatabaseName: aws.String(c.DatabaseName(database))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if isA[*types.EntityNotFoundException](err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("gluecatalog: list tables of %s: %w", database, mapErr(err))
		}
		for i := range page.TableList {
			if aws.ToString(page.TableList[i].TableType) == viewType {
				continue // views (an analyst's CREATE VIEW) are Athena's, not tables of the lake
			}
			t, err := c.fromGlue(database, &page.TableList[i])
			if err != nil {
				return nil, fmt.Errorf("gluecatalog: list tables of %s: %w", database, err)
			}
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b *catalog.Table) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// PutTable implements catalog.Catalog. Updates pass the version read to
// UpdateTable's VersionId, which Glue checks atomically
// (ConcurrentModificationException); the version is also compared before
// the call, so a server that ignores VersionId still refuses a stale
// writer that is not racing.
func (c *Catalog) PutTable(ctx context.Context, t *catalog.Table) error {
	if err := t.Validate(); err != nil {
		return err
	}
	wrap := func(err error) error { return fmt.Errorf("gluecatalog: put table %s.%s: %w", t.Database, t.Name, err) }
	in := c.toGlue(t)
	if t.Version == "" {
		_, err := c.client.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String(c.DatabaseName(t.Database)), TableInput: in})
		if err == nil {
			cur, err := c.GetTable(ctx, t.Database, t.Name)
			if err != nil {
				return err
			}
			t.Version = cur.Version
			return nil
		}
		if !isA[*types.AlreadyExistsException](err) {
			return wrap(mapErr(err))
		}
		cur, err := c.GetTable(ctx, t.Database, t.Name)
		if err != nil {
			return err
		}
		if !catalog.SameDefinition(cur, t) {
			return wrap(fmt.Errorf("table exists with another definition: %w", catalog.ErrConflict))
		}
		t.Version = cur.Version
		return nil
	}
	cur, err := c.GetTable(ctx, t.Database, t.Name)
	if err != nil {
		return err
	}
	if cur.Version != t.Version {
		return wrap(fmt.Errorf("table changed since version %s (now %s): %w", t.Version, cur.Version, catalog.ErrConflict))
	}
	if _, err := c.client.UpdateTable(ctx, &glue.UpdateTableInput{
		DatabaseName: aws.String(c.DatabaseName(t.Database)),
		TableInput:   in,
		VersionId:    aws.String(t.Version),
	}); err != nil {
		return wrap(mapErr(err))
	}
	next, err := c.GetTable(ctx, t.Database, t.Name)
	if err != nil {
		return err
	}
	t.Version = next.Version
	return nil
}

func (c *Catalog) toGlue(t *catalog.Table) *types.TableInput {
	f := formats[t.Format]
	params := map[string]string{"classification": string(t.Format), "EXTERNAL": "TRUE"}
	if t.Files != "" {
		params[paramFiles] = t.Files
	}
	var desc *string
	if t.Description != "" {
		desc = aws.String(t.Description)
	}
	return &types.TableInput{
		Name:        aws.String(t.Name),
		Description: desc,
		TableType:   aws.String("EXTERNAL_TABLE"),
		Parameters:  params,
		// Unpartitioned, said with an empty list rather than none, as the
		// meta tables have always been stored (Glue readers differ on a
		// missing list: hashicorp/terraform-provider-aws#16727).
		PartitionKeys: []types.Column{},
		StorageDescriptor: &types.StorageDescriptor{
			Columns:      toGlueColumns(t.Columns),
			Location:     aws.String(c.s3Location(t.Location)),
			InputFormat:  aws.String(f.input),
			OutputFormat: aws.String(f.output),
			SerdeInfo:    &types.SerDeInfo{SerializationLibrary: aws.String(f.serde)},
		},
	}
}

func (c *Catalog) fromGlue(database string, gt *types.Table) (*catalog.Table, error) {
	t := &catalog.Table{
		Database:    database,
		Name:        aws.ToString(gt.Name),
		Description: aws.ToString(gt.Description),
		Format:      catalog.Format(gt.Parameters["classification"]),
		Files:       gt.Parameters[paramFiles],
		Version:     aws.ToString(gt.VersionId),
	}
	if sd := gt.StorageDescriptor; sd != nil {
		t.Columns = fromGlueColumns(sd.Columns)
		rel, err := c.relLocation(aws.ToString(sd.Location))
		if err != nil {
			return nil, err
		}
		t.Location = rel
	}
	return t, nil
}

func toGlueColumns(cols []catalog.Column) []types.Column {
	out := make([]types.Column, len(cols))
	for i, c := range cols {
		out[i] = types.Column{Name: aws.String(c.Name), Type: aws.String(c.Type)}
	}
	return out
}

func fromGlueColumns(cols []types.Column) []catalog.Column {
	if len(cols) == 0 {
		return nil
	}
	out := make([]catalog.Column, len(cols))
	for i, c := range cols {
		out[i] = catalog.Column{Name: aws.ToString(c.Name), Type: aws.ToString(c.Type)}
	}
	return out
}

// mapErr wraps Glue's errors that the catalog contract names.
func mapErr(err error) error {
	switch {
	case isA[*types.EntityNotFoundException](err):
		return fmt.Errorf("%w: %w", catalog.ErrNotFound, err)
	case isA[*types.ConcurrentModificationException](err), isA[*types.AlreadyExistsException](err):
		return fmt.Errorf("%w: %w", catalog.ErrConflict, err)
	case isA[*types.InvalidInputException](err):
		return fmt.Errorf("%w: %w", catalog.ErrInvalid, err)
	}
	return err
}

func isA[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}
