package catalog

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// HiveType is the catalog type (Glue/Athena spelling) of an Arrow type, as
// Athena reads it from Parquet. Unsigned integers wider than 32 bits, time
// of day, durations and intervals have no Athena type and are refused with
// an *UnsupportedTypeError.
func HiveType(t arrow.DataType) (string, error) {
	switch t := t.(type) {
	case arrow.ExtensionType:
		return HiveType(t.StorageType())
	case *arrow.DictionaryType:
		return HiveType(t.ValueType)
	case arrow.DecimalType:
		return fmt.Sprintf("decimal(%d,%d)", t.GetPrecision(), t.GetScale()), nil
	case *arrow.ListType:
		return elemType("array<%s>", t.Elem())
	case *arrow.LargeListType:
		return elemType("array<%s>", t.Elem())
	case *arrow.FixedSizeListType:
		return elemType("array<%s>", t.Elem())
	case *arrow.MapType:
		k, err := HiveType(t.KeyType())
		if err != nil {
			return "", err
		}
		v, err := HiveType(t.ItemType())
		if err != nil {
			return "", err
		}
		return "map<" + k + "," + v + ">", nil
	case *arrow.StructType:
		fields := make([]string, t.NumFields())
		for i, f := range t.Fields() {
			ft, err := HiveType(f.Type)
			if err != nil {
				return "", err
			}
			fields[i] = strings.ToLower(f.Name) + ":" + ft
		}
		return "struct<" + strings.Join(fields, ",") + ">", nil
	}
	switch t.ID() {
	case arrow.BOOL:
		return "boolean", nil
	case arrow.INT8:
		return "tinyint", nil
	case arrow.INT16, arrow.UINT8:
		return "smallint", nil
	case arrow.INT32, arrow.UINT16:
		return "int", nil
	case arrow.INT64, arrow.UINT32:
		return "bigint", nil
	case arrow.FLOAT16, arrow.FLOAT32:
		return "float", nil
	case arrow.FLOAT64:
		return "double", nil
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return "string", nil
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.BINARY_VIEW, arrow.FIXED_SIZE_BINARY:
		return "binary", nil
	case arrow.DATE32, arrow.DATE64:
		return "date", nil
	case arrow.TIMESTAMP:
		return "timestamp", nil
	}
	return "", &UnsupportedTypeError{Type: t.String()}
}

func elemType(format string, elem arrow.DataType) (string, error) {
	e, err := HiveType(elem)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(format, e), nil
}

// Columns are the catalog columns of an Arrow schema, named in lower case
// (Glue and Athena fold names to lower case; two fields that differ only in
// case are refused).
func Columns(s *arrow.Schema) ([]Column, error) {
	cols := make([]Column, 0, s.NumFields())
	seen := map[string]bool{}
	for _, f := range s.Fields() {
		name := strings.ToLower(f.Name)
		if seen[name] {
			return nil, fmt.Errorf("catalog: two columns named %q (names are case-insensitive in the catalog)", name)
		}
		seen[name] = true
		typ, err := HiveType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("catalog: column %q: %w", f.Name, err)
		}
		cols = append(cols, Column{Name: name, Type: typ})
	}
	return cols, nil
}

// UnsupportedTypeError reports an Arrow type that has no catalog type.
type UnsupportedTypeError struct {
	Type string
}

// Error implements error.
func (e *UnsupportedTypeError) Error() string {
	return fmt.Sprintf("catalog: Arrow type %s has no catalog (Athena) type", e.Type)
}

// ColumnNameError means a table has columns the catalog cannot hold:
// names that are not plain identifiers once lower-cased (a-z, 0-9, _, not
// starting with a digit, at most 128 characters), or two names that differ
// only in case. It is found before anything is written (at ingest's plan,
// and at validate for objects dropped by hand), so the table's objects
// stay in bronze: rename the columns in the source (or a view), then
// replay. Not retryable.
type ColumnNameError struct {
	Table    string
	Problems []string // one per column, naming it
}

func (e *ColumnNameError) Error() string {
	return fmt.Sprintf("catalog: table %s has columns the catalog cannot hold: %s", e.Table, strings.Join(e.Problems, "; "))
}

// CheckColumnNames returns a *ColumnNameError listing every name of
// table's columns that the catalog cannot hold, or nil.
func CheckColumnNames(table string, names []string) error {
	var problems []string
	seen := map[string]string{}
	for _, n := range names {
		low := strings.ToLower(n)
		if !nameRE.MatchString(low) {
			problems = append(problems, fmt.Sprintf("%q is not a plain identifier (a-z, 0-9, _, not starting with a digit, at most 128 characters)", n))
			continue
		}
		if other, dup := seen[low]; dup {
			problems = append(problems, fmt.Sprintf("%q and %q are one name to the catalog (names are case-insensitive)", other, n))
			continue
		}
		seen[low] = n
	}
	if len(problems) > 0 {
		return &ColumnNameError{Table: table, Problems: problems}
	}
	return nil
}
