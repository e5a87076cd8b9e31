// Package gluepointer is the icecatalog backend for AWS: each table's
// pointer is the AWS Glue Data Catalog table <namespace>.<name>, an Iceberg
// table as Athena reads it: TableType EXTERNAL_TABLE, Parameters
// table_type=ICEBERG and metadata_location (the current metadata file),
// previous_metadata_location, and a StorageDescriptor with the table's
// location and its current columns (docs/iceberg.md cites the AWS
// documentation).
//
// Swap is Glue's optimistic UpdateTable: it passes the VersionId that Get
// read, and Glue refuses the update with ConcurrentModificationException
// when the table changed since. UpdateTable runs with SkipArchive, so one
// commit per object does not pile up archived table versions. Before it,
// Swap reads the table again and gives up if it moved: moto_server, which
// the tests run against, does not enforce VersionId, and there the
// catalog's claim of each metadata version (icecatalog) is what keeps
// concurrent commits apart.
//
// WithDatabasePrefix keeps the lake's namespaces as prefixed Glue
// databases (silver as lake_silver), as the deployment names them.
//
// The IAM actions it needs: glue:GetTable, glue:CreateTable,
// glue:UpdateTable, glue:GetDatabase and (unless the databases are
// created by the deployment) glue:CreateDatabase.
package gluepointer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/medallionlake/lake/internal/icecatalog"
)

// Glue table parameters of an Iceberg table, as Athena and the Iceberg
// libraries read them.
const (
	ParamTableType                = "table_type"
	ParamMetadataLocation         = "metadata_location"
	ParamPreviousMetadataLocation = "previous_metadata_location"
	TableTypeIceberg              = "ICEBERG"
)

var _ icecatalog.Backend = (*Backend)(nil)

// Backend keeps pointers in one Glue Data Catalog.
type Backend struct {
	client *glue.Client
	// catalogID is the AWS account of the catalog; nil: the caller's.
	catalogID *string
	// dbPrefix is put before each namespace to name its Glue database.
	dbPrefix string
}

// Option configures a Backend.
type Option func(*Backend)

// WithDatabasePrefix stores the tables of each namespace in the Glue
// database prefix+namespace (with "lake_": lake_silver, lake_discarded),
// as gluecatalog.WithDatabasePrefix does for the lake's other tables.
// Table locations and the catalog's identifiers keep the lake's names.
func WithDatabasePrefix(prefix string) Option {
	return func(b *Backend) { b.dbPrefix = prefix }
}

// New returns the backend over client's Glue Data Catalog. catalogID,
// when not empty, is the account ID of a catalog shared from another
// account.
func New(client *glue.Client, catalogID string, opts ...Option) *Backend {
	b := &Backend{client: client}
	if catalogID != "" {
		b.catalogID = aws.String(catalogID)
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

// database is the Glue database of t's namespace.
func (b *Backend) database(t icecatalog.Table) *string {
	return aws.String(b.dbPrefix + t.Namespace)
}

// Get implements icecatalog.Backend.
func (b *Backend) Get(ctx context.Context, t icecatalog.Table) (icecatalog.Pointer, error) {
	out, err := b.client.GetTable(ctx, &glue.GetTableInput{
		CatalogId: b.catalogID, DatabaseName: b.database(t), Name: aws.String(t.Name),
	})
	if isA[*types.EntityNotFoundException](err) {
		return icecatalog.Pointer{}, fmt.Errorf("gluepointer: table %s: %w", t, icecatalog.ErrNoSuchTable)
	}
	if err != nil {
		return icecatalog.Pointer{}, fmt.Errorf("gluepointer: get table %s: %w", t, err)
	}
	params := out.Table.Parameters
	if !strings.EqualFold(params[ParamTableType], TableTypeIceberg) {
		return icecatalog.Pointer{}, fmt.Errorf("gluepointer: table %s is not an Iceberg table (table_type %q)", t, params[ParamTableType])
	}
	loc := params[ParamMetadataLocation]
	if loc == "" {
		return icecatalog.Pointer{}, fmt.Errorf("gluepointer: table %s has no %s", t, ParamMetadataLocation)
	}
	return icecatalog.Pointer{Location: loc, Version: aws.ToString(out.Table.VersionId)}, nil
}

// Create implements icecatalog.Backend. It creates the Glue database
// first when it is missing.
func (b *Backend) Create(ctx context.Context, t icecatalog.Table, location string, meta table.Metadata) error {
	if err := b.ensureDatabase(ctx, *b.database(t)); err != nil {
		return err
	}
	_, err := b.client.CreateTable(ctx, &glue.CreateTableInput{
		CatalogId:    b.catalogID,
		DatabaseName: b.database(t),
		TableInput:   tableInput(t, location, meta, nil),
	})
	if isA[*types.AlreadyExistsException](err) {
		return fmt.Errorf("gluepointer: create %s: %w", t, icecatalog.ErrTableExists)
	}
	if err != nil {
		return fmt.Errorf("gluepointer: create %s: %w", t, err)
	}
	return nil
}

// Swap implements icecatalog.Backend.
func (b *Backend) Swap(ctx context.Context, t icecatalog.Table, prev icecatalog.Pointer, location string, meta table.Metadata) error {
	out, err := b.client.GetTable(ctx, &glue.GetTableInput{
		CatalogId: b.catalogID, DatabaseName: b.database(t), Name: aws.String(t.Name),
	})
	if err != nil {
		return fmt.Errorf("gluepointer: swap %s: %w", t, err)
	}
	if aws.ToString(out.Table.VersionId) != prev.Version || out.Table.Parameters[ParamMetadataLocation] != prev.Location {
		return fmt.Errorf("gluepointer: swap %s: now at %s: %w", t, out.Table.Parameters[ParamMetadataLocation], icecatalog.ErrConflict)
	}
	_, err = b.client.UpdateTable(ctx, &glue.UpdateTableInput{
		CatalogId:    b.catalogID,
		DatabaseName: b.database(t),
		TableInput:   tableInput(t, location, meta, out.Table),
		VersionId:    aws.String(prev.Version),
		SkipArchive:  aws.Bool(true),
	})
	if isA[*types.ConcurrentModificationException](err) {
		return fmt.Errorf("gluepointer: swap %s: %w: %w", t, icecatalog.ErrConflict, err)
	}
	if err != nil {
		return fmt.Errorf("gluepointer: swap %s: %w", t, err)
	}
	return nil
}

// ensureDatabase creates the Glue database name if it is missing.
func (b *Backend) ensureDatabase(ctx context.Context, name string) error {
	_, err := b.client.GetDatabase(ctx, &glue.GetDatabaseInput{CatalogId: b.catalogID, Name: aws.String(name)})
	if err == nil {
		return nil
	}
	if !isA[*types.EntityNotFoundException](err) {
		return fmt.Errorf("gluepointer: get database %s: %w", name, err)
	}
	_, err = b.client.CreateDatabase(ctx, &glue.CreateDatabaseInput{
		CatalogId:     b.catalogID,
		DatabaseInput: &types.DatabaseInput{Name: aws.String(name)},
	})
	if err != nil && !isA[*types.AlreadyExistsException](err) {
		return fmt.Errorf("gluepointer: create database %s: %w", name, err)
	}
	return nil
}

// tableInput is the Glue definition of t at metadata file location (with
// content meta). prev, when set, is the stored table: parameters other
// engines set on it are kept.
func tableInput(t icecatalog.Table, location string, meta table.Metadata, prev *types.Table) *types.TableInput {
	params := map[string]string{}
	if prev != nil {
		maps.Copy(params, prev.Parameters)
		params[ParamPreviousMetadataLocation] = prev.Parameters[ParamMetadataLocation]
	}
	params[ParamTableType] = TableTypeIceberg
	params[ParamMetadataLocation] = location
	return &types.TableInput{
		Name:       aws.String(t.Name),
		TableType:  aws.String("EXTERNAL_TABLE"),
		Parameters: params,
		StorageDescriptor: &types.StorageDescriptor{
			Location: aws.String(t.Location),
			Columns:  Columns(meta.CurrentSchema()),
		},
	}
}

// Columns are the Glue columns of schema: Hive types as Athena shows them,
// with the Iceberg field ID and optionality in each column's parameters.
func Columns(schema *iceberg.Schema) []types.Column {
	var cols []types.Column
	for _, f := range schema.Fields() {
		cols = append(cols, types.Column{
			Name: aws.String(f.Name),
			Type: aws.String(HiveType(f.Type)),
			Parameters: map[string]string{
				"iceberg.field.id":       strconv.Itoa(f.ID),
				"iceberg.field.optional": strconv.FormatBool(!f.Required),
				"iceberg.field.current":  "true",
			},
		})
	}
	return cols
}

// HiveType spells an Iceberg type as Glue and Athena do.
func HiveType(t iceberg.Type) string {
	switch t := t.(type) {
	case iceberg.BooleanType:
		return "boolean"
	case iceberg.Int32Type:
		return "int"
	case iceberg.Int64Type:
		return "bigint"
	case iceberg.Float32Type:
		return "float"
	case iceberg.Float64Type:
		return "double"
	case iceberg.DecimalType:
		return fmt.Sprintf("decimal(%d,%d)", t.Precision(), t.Scale())
	case iceberg.DateType:
		return "date"
	case iceberg.TimestampType, iceberg.TimestampTzType:
		return "timestamp"
	case iceberg.StringType, iceberg.UUIDType, iceberg.TimeType:
		return "string"
	case iceberg.BinaryType, iceberg.FixedType:
		return "binary"
	case *iceberg.ListType:
		return "array<" + HiveType(t.Element) + ">"
	case *iceberg.MapType:
		return "map<" + HiveType(t.KeyType) + "," + HiveType(t.ValueType) + ">"
	case *iceberg.StructType:
		fields := make([]string, len(t.FieldList))
		for i, f := range t.FieldList {
			fields[i] = f.Name + ":" + HiveType(f.Type)
		}
		return "struct<" + strings.Join(fields, ",") + ">"
	}
	return "string"
}

func isA[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}
