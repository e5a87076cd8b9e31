package bronze

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/medallionlake/lake/internal/contract"
	"github.com/medallionlake/lake/internal/layout"
)

// TestCheckSchemaPartitionColumn checks the partition column's type
// against each transform, in the object and in the table's schema.json.
func TestCheckSchemaPartitionColumn(t *testing.T) {
	for _, tc := range []struct {
		transform contract.Transform
		typ       arrow.DataType
		ok        bool
	}{
		{"month", arrow.FixedWidthTypes.Timestamp_us, true},
		{"day", arrow.FixedWidthTypes.Date32, true},
		{"year", arrow.PrimitiveTypes.Int64, false},
		{"month", arrow.BinaryTypes.String, false},
		{"bucket[16]", arrow.PrimitiveTypes.Int64, true},
		{"bucket[16]", arrow.BinaryTypes.String, true},
		{"bucket[16]", arrow.FixedWidthTypes.Timestamp_us, true},
		{"bucket[16]", &arrow.Decimal128Type{Precision: 12, Scale: 2}, true},
		{"bucket[16]", arrow.PrimitiveTypes.Float64, false},
		{"bucket[16]", arrow.FixedWidthTypes.Boolean, false},
	} {
		t.Run(string(tc.transform)+"/"+tc.typ.String(), func(t *testing.T) {
			table := &contract.Table{Name: "orders", PrimaryKey: []string{"order_id"}, Cursor: "updated_at",
				Partition: contract.Partition{Column: "p", Transform: tc.transform}}
			sc := arrow.NewSchema([]arrow.Field{
				{Name: "order_id", Type: arrow.PrimitiveTypes.Int64},
				{Name: "updated_at", Type: arrow.FixedWidthTypes.Timestamp_us},
				{Name: "p", Type: tc.typ},
			}, nil)

			// an object dropped by hand: no schema.json, the object is checked
			o := &Object{Table: table}
			p, err := o.checkSchema(sc)
			if err != nil {
				t.Fatalf("without schema.json: %v", err)
			}
			if got := p == nil; got != tc.ok {
				t.Errorf("without schema.json: problem %v, want ok=%v", p, tc.ok)
			}
			if p != nil && (p.Kind != ProblemWrongType || !strings.Contains(p.Detail, `partition column "p"`)) {
				t.Errorf("without schema.json: problem %v, want %s naming the partition column", p, ProblemWrongType)
			}

			// with a schema.json that says the same: the contract's fault
			o.Schema = &layout.TableSchema{Table: "orders"}
			for _, f := range sc.Fields() {
				o.Schema.Columns = append(o.Schema.Columns, layout.ColumnSchema{Name: f.Name, Arrow: f.Type.String()})
			}
			p, err = o.checkSchema(sc)
			var ce *ContractError
			switch {
			case tc.ok && (err != nil || p != nil):
				t.Errorf("with schema.json: problem %v, error %v, want none", p, err)
			case !tc.ok && !errors.As(err, &ce):
				t.Errorf("with schema.json: problem %v, error %v, want a *ContractError", p, err)
			}
		})
	}
}
