package dq

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// colKind is how the evaluator reads a column.
type colKind int

const (
	kInt     colKind = iota // signed integers and uint8..uint32, read as int64
	kFloat                  // float32, float64, uint64
	kDecimal                // decimal128(p, s)
	kString                 // string, large_string
	kTime                   // timestamp, date32, date64: int64 ticks
	kBool
)

func (k colKind) String() string {
	return [...]string{"integer", "floating-point", "decimal", "string", "date/time", "boolean"}[k]
}

// column is a column the rules read, bound to a slot in each batch.
type column struct {
	name  string
	slot  int
	typ   arrow.DataType
	kind  colKind
	scale int32 // kDecimal
	// kTime: ticks per second, or ticksPerDay for date32.
	perSec int64
	days   bool
}

func newColumn(name string, slot int, typ arrow.DataType) (*column, error) {
	c := &column{name: name, slot: slot, typ: typ}
	switch t := typ.(type) {
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type,
		*arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type:
		c.kind = kInt
	case *arrow.Float32Type, *arrow.Float64Type, *arrow.Uint64Type:
		c.kind = kFloat
	case *arrow.Decimal128Type:
		c.kind, c.scale = kDecimal, t.Scale
	case *arrow.StringType, *arrow.LargeStringType:
		c.kind = kString
	case *arrow.DictionaryType:
		switch t.ValueType.(type) {
		case *arrow.StringType, *arrow.LargeStringType:
			c.kind = kString
		default:
			return nil, fmt.Errorf("column %q has type %s, which rules cannot read", name, typ)
		}
	case *arrow.TimestampType:
		c.kind = kTime
		switch t.Unit {
		case arrow.Second:
			c.perSec = 1
		case arrow.Millisecond:
			c.perSec = 1e3
		case arrow.Microsecond:
			c.perSec = 1e6
		default:
			c.perSec = 1e9
		}
	case *arrow.Date32Type:
		c.kind, c.days = kTime, true
	case *arrow.Date64Type:
		c.kind, c.perSec = kTime, 1e3
	case *arrow.BooleanType:
		c.kind = kBool
	default:
		return nil, fmt.Errorf("column %q has type %s, which rules cannot read", name, typ)
	}
	return c, nil
}

// accessors read one typed value; each is bound to a batch's array.
func intGetter(a arrow.Array) func(int) int64 {
	switch a := a.(type) {
	case *array.Int64:
		return func(i int) int64 { return a.Value(i) }
	case *array.Int32:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Int16:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Int8:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Uint32:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Uint16:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Uint8:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Timestamp:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Date32:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Date64:
		return func(i int) int64 { return int64(a.Value(i)) }
	}
	panic(fmt.Sprintf("dq: no integer reader for %T", a))
}

func floatGetter(a arrow.Array) func(int) float64 {
	switch a := a.(type) {
	case *array.Float64:
		return a.Value
	case *array.Float32:
		return func(i int) float64 { return float64(a.Value(i)) }
	case *array.Uint64:
		return func(i int) float64 { return float64(a.Value(i)) }
	}
	panic(fmt.Sprintf("dq: no float reader for %T", a))
}

func stringGetter(a arrow.Array) func(int) string {
	switch a := a.(type) {
	case *array.String:
		return a.Value
	case *array.LargeString:
		return a.Value
	case *array.Dictionary:
		values := stringGetter(a.Dictionary())
		return func(i int) string { return values(a.GetValueIndex(i)) }
	}
	panic(fmt.Sprintf("dq: no string reader for %T", a))
}

// literal is a constant a column is compared with.
type literal struct {
	kind colKind // kFloat stands for any number (num holds it exactly)
	null bool
	num  *big.Rat
	str  string
	tm   time.Time
	b    bool
	text string
}

// decide turns c, the comparison of a value with floor(literal) in the
// column's domain, into the outcome of op; exact reports that the literal
// is representable in that domain.
func decide(op cmpOp, c int, exact bool) bool {
	switch op {
	case cEq:
		return exact && c == 0
	case cNe:
		return !(exact && c == 0)
	case cLt:
		return c < 0 || (!exact && c == 0)
	case cLe:
		return c <= 0
	case cGt:
		return c > 0
	default: // cGe
		return c > 0 || (exact && c == 0)
	}
}

type cmpOp int

const (
	cEq cmpOp = iota
	cNe
	cLt
	cLe
	cGt
	cGe
)

// floorScaled returns floor(r * 10^scale) and whether it is exact.
func floorScaled(r *big.Rat, scale int32) (*big.Int, bool) {
	x := new(big.Rat).Set(r)
	if scale > 0 {
		x.Mul(x, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	} else if scale < 0 {
		x.Quo(x, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-scale)), nil)))
	}
	q, m := new(big.Int).DivMod(x.Num(), x.Denom(), new(big.Int))
	return q, m.Sign() == 0
}

var (
	minInt64 = big.NewInt(math.MinInt64)
	maxInt64 = big.NewInt(math.MaxInt64)
	maxDec   = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 127), big.NewInt(1))
	minDec   = new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 127))
)

// outOfRange is the outcome of op for every value of a column whose
// range lies wholly above (below) the literal.
func outOfRange(op cmpOp, below bool) bool {
	c := 1
	if !below {
		c = -1
	}
	return decide(op, c, true)
}

// timeTicks converts t to the column's ticks: floor and exactness.
func (c *column) timeTicks(t time.Time) (int64, bool) {
	if c.days {
		s := t.Unix()
		d := s / 86400
		if s%86400 < 0 {
			d--
		}
		return d, s%86400 == 0 && t.Nanosecond() == 0
	}
	ns := new(big.Int).Mul(big.NewInt(t.Unix()), big.NewInt(1e9))
	ns.Add(ns, big.NewInt(int64(t.Nanosecond())))
	q, m := new(big.Int).DivMod(ns, big.NewInt(1e9/c.perSec), new(big.Int))
	return q.Int64(), m.Sign() == 0
}

// tickTime converts ticks back to a time (for messages and values).
func (c *column) tickTime(v int64) time.Time {
	if c.days {
		return time.Unix(v*86400, 0).UTC()
	}
	return time.Unix(0, 0).Add(time.Duration(v) * time.Duration(1e9/c.perSec)).UTC()
}

// format renders the value at row i as text ("NULL" for null).
func (c *column) format(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
	}
	switch c.kind {
	case kInt:
		return strconv.FormatInt(intGetter(a)(i), 10)
	case kFloat:
		return strconv.FormatFloat(floatGetter(a)(i), 'g', -1, 64)
	case kDecimal:
		return a.(*array.Decimal128).Value(i).ToString(c.scale)
	case kString:
		return stringGetter(a)(i)
	case kTime:
		t := c.tickTime(intGetter(a)(i))
		if c.days {
			return t.Format("2006-01-02")
		}
		return t.Format(time.RFC3339Nano)
	case kBool:
		return strconv.FormatBool(a.(*array.Boolean).Value(i))
	}
	return a.ValueStr(i)
}

// tri is SQL's three-valued logic.
type tri uint8

const (
	tFalse tri = iota
	tTrue
	tNull
)

func triOf(b bool) tri {
	if b {
		return tTrue
	}
	return tFalse
}

// binder binds a compiled predicate to a batch's arrays.
type binder func(cols []arrow.Array) func(i int) tri

// compareInt binds `column op lf` for a column of integer values (integers,
// and timestamps and dates as ticks); exact says lf is the literal itself,
// not its floor.
func compareInt(slot int, op cmpOp, lf int64, exact bool) binder {
	return func(cols []arrow.Array) func(int) tri {
		a := cols[slot]
		get := intGetter(a)
		return func(i int) tri {
			if a.IsNull(i) {
				return tNull
			}
			v := get(i)
			cmp := 0
			if v < lf {
				cmp = -1
			} else if v > lf {
				cmp = 1
			}
			return triOf(decide(op, cmp, exact))
		}
	}
}

// compareLiteral compiles `column op literal` with SQL semantics (NULL
// operands give tNull). Numbers are compared exactly: decimals and
// integers through floor(literal) at the column's scale.
func compareLiteral(c *column, op cmpOp, lit literal) (binder, error) {
	if lit.null {
		return func([]arrow.Array) func(int) tri { return func(int) tri { return tNull } }, nil
	}
	constant := func(v bool) binder {
		return func(cols []arrow.Array) func(int) tri {
			a := cols[c.slot]
			return func(i int) tri {
				if a.IsNull(i) {
					return tNull
				}
				return triOf(v)
			}
		}
	}
	mismatch := fmt.Errorf("cannot compare %s column %q with %s", c.kind, c.name, lit.text)
	switch c.kind {
	case kInt, kDecimal:
		if lit.kind != kFloat {
			return nil, mismatch
		}
		scale := int32(0)
		if c.kind == kDecimal {
			scale = c.scale
		}
		f, exact := floorScaled(lit.num, scale)
		if c.kind == kInt {
			if f.Cmp(minInt64) < 0 || f.Cmp(maxInt64) > 0 {
				return constant(outOfRange(op, f.Sign() < 0)), nil
			}
			return compareInt(c.slot, op, f.Int64(), exact), nil
		}
		if f.Cmp(minDec) < 0 || f.Cmp(maxDec) > 0 {
			return constant(outOfRange(op, f.Sign() < 0)), nil
		}
		lf := decimal128.FromBigInt(f)
		return func(cols []arrow.Array) func(int) tri {
			a := cols[c.slot].(*array.Decimal128)
			return func(i int) tri {
				if a.IsNull(i) {
					return tNull
				}
				return triOf(decide(op, a.Value(i).Cmp(lf), exact))
			}
		}, nil
	case kFloat:
		if lit.kind != kFloat {
			return nil, mismatch
		}
		lf, _ := lit.num.Float64()
		return func(cols []arrow.Array) func(int) tri {
			a := cols[c.slot]
			get := floatGetter(a)
			return func(i int) tri {
				if a.IsNull(i) {
					return tNull
				}
				v := get(i)
				cmp := 0
				if v < lf {
					cmp = -1
				} else if v > lf {
					cmp = 1
				} else if v != lf { // NaN
					return tFalse
				}
				return triOf(decide(op, cmp, true))
			}
		}, nil
	case kString:
		if lit.kind != kString {
			return nil, mismatch
		}
		s := lit.str
		return func(cols []arrow.Array) func(int) tri {
			a := cols[c.slot]
			get := stringGetter(a)
			return func(i int) tri {
				if a.IsNull(i) {
					return tNull
				}
				return triOf(decide(op, strings.Compare(get(i), s), true))
			}
		}, nil
	case kTime:
		if lit.kind != kTime {
			return nil, mismatch
		}
		lf, exact := c.timeTicks(lit.tm)
		return compareInt(c.slot, op, lf, exact), nil
	case kBool:
		if lit.kind != kBool || (op != cEq && op != cNe) {
			return nil, mismatch
		}
		want := lit.b == (op == cEq)
		return func(cols []arrow.Array) func(int) tri {
			a := cols[c.slot].(*array.Boolean)
			return func(i int) tri {
				if a.IsNull(i) {
					return tNull
				}
				return triOf(a.Value(i) == want)
			}
		}, nil
	}
	return nil, mismatch
}

// compareColumns compiles `x op y` for two columns of the same kind.
func compareColumns(x *column, op cmpOp, y *column) (binder, error) {
	if x.kind != y.kind || x.kind == kBool {
		return nil, fmt.Errorf("cannot compare %s column %q with %s column %q", x.kind, x.name, y.kind, y.name)
	}
	var cmp func(xa, ya arrow.Array) func(int) int
	switch x.kind {
	case kInt:
		cmp = func(xa, ya arrow.Array) func(int) int {
			gx, gy := intGetter(xa), intGetter(ya)
			return func(i int) int { return cmp3(gx(i), gy(i)) }
		}
	case kFloat:
		cmp = func(xa, ya arrow.Array) func(int) int {
			gx, gy := floatGetter(xa), floatGetter(ya)
			return func(i int) int { return cmp3(gx(i), gy(i)) }
		}
	case kString:
		cmp = func(xa, ya arrow.Array) func(int) int {
			gx, gy := stringGetter(xa), stringGetter(ya)
			return func(i int) int { return strings.Compare(gx(i), gy(i)) }
		}
	case kDecimal:
		cmp = func(xa, ya arrow.Array) func(int) int {
			dx, dy := xa.(*array.Decimal128), ya.(*array.Decimal128)
			return func(i int) int {
				a, b := dx.Value(i), dy.Value(i)
				if x.scale < y.scale {
					a = a.IncreaseScaleBy(y.scale - x.scale)
				} else if y.scale < x.scale {
					b = b.IncreaseScaleBy(x.scale - y.scale)
				}
				return a.Cmp(b)
			}
		}
	case kTime:
		same := x.days == y.days && x.perSec == y.perSec
		cmp = func(xa, ya arrow.Array) func(int) int {
			gx, gy := intGetter(xa), intGetter(ya)
			if same {
				return func(i int) int { return cmp3(gx(i), gy(i)) }
			}
			return func(i int) int { return x.tickTime(gx(i)).Compare(y.tickTime(gy(i))) }
		}
	}
	return func(cols []arrow.Array) func(int) tri {
		xa, ya := cols[x.slot], cols[y.slot]
		f := cmp(xa, ya)
		return func(i int) tri {
			if xa.IsNull(i) || ya.IsNull(i) {
				return tNull
			}
			return triOf(decide(op, f(i), true))
		}
	}, nil
}

func cmp3[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

var timeTextLayouts = []string{"2006-01-02", "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04:05Z07:00", time.RFC3339Nano}

// parseTimeText reads a date or timestamp written as text; without a zone
// it is UTC.
func parseTimeText(s string) (time.Time, error) {
	for _, l := range timeTextLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("malformed date or timestamp %q: expected yyyy-mm-dd or yyyy-mm-dd hh:mm:ss[±hh:mm]", s)
}
