package pgarrow

import (
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// numeric_send's format: ndigits, weight, sign, dscale (int16 each), then
// ndigits base-10000 digits; the value is the sum of digit[i] *
// 10000^(weight-i).
const (
	numericPos  = 0x0000
	numericNeg  = 0x4000
	numericNaN  = 0xC000
	numericPInf = 0xD000
	numericNInf = 0xF000
)

var pow10 = [...]int64{1, 10, 100, 1000, 10000}

// pow10Num[i] is 10^i as a decimal128.Num.
var pow10Num = func() (p [39]decimal128.Num) {
	p[0] = decimal128.FromI64(1)
	ten := decimal128.FromI64(10)
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1].Mul(ten)
	}
	return p
}()

// numericHeader splits a binary numeric into its header and digits.
func numericHeader(v []byte) (weight int, sign uint16, dscale int, digits []byte, err error) {
	if len(v) < 8 {
		return 0, 0, 0, nil, fmt.Errorf("numeric: %d bytes", len(v))
	}
	n := int(be.Uint16(v))
	weight = int(int16(be.Uint16(v[2:])))
	sign = be.Uint16(v[4:])
	dscale = int(be.Uint16(v[6:]))
	if len(v) != 8+2*n {
		return 0, 0, 0, nil, fmt.Errorf("numeric: %d bytes for %d digits", len(v), n)
	}
	return weight, sign, dscale, v[8:], nil
}

// numericToDecimal converts a binary numeric to an unscaled decimal at
// scale, exactly: it refuses NaN, infinities and values with more
// fractional digits than scale instead of rounding them.
func numericToDecimal(v []byte, scale int32) (decimal128.Num, error) {
	weight, sign, _, digits, err := numericHeader(v)
	if err != nil {
		return decimal128.Num{}, err
	}
	switch sign {
	case numericNaN:
		return decimal128.Num{}, errUnrepresentable("NaN in a numeric(p,s) column")
	case numericPInf, numericNInf:
		return decimal128.Num{}, errUnrepresentable("infinity in a numeric(p,s) column")
	}
	// Horner's rule over the digits; exp is the power of ten of the last
	// digit taken relative to the unscaled value.
	var acc decimal128.Num
	exp := 0
	for i := 0; i < len(digits)/2; i++ {
		d := int64(be.Uint16(digits[2*i:]))
		e := 4*(weight-i) + int(scale)
		switch {
		case e >= 0:
			acc = acc.Mul(pow10Num[4]).Add(decimal128.FromI64(d))
			exp = e
		case e > -4:
			k := -e
			if d%pow10[k] != 0 {
				return decimal128.Num{}, errUnrepresentable(fmt.Sprintf("more than %d fractional digits", scale))
			}
			acc = acc.Mul(pow10Num[4-k]).Add(decimal128.FromI64(d / pow10[k]))
			exp = 0
		case d != 0:
			return decimal128.Num{}, errUnrepresentable(fmt.Sprintf("more than %d fractional digits", scale))
		}
	}
	if exp >= len(pow10Num) {
		return decimal128.Num{}, errUnrepresentable("numeric out of decimal128 range")
	}
	acc = acc.Mul(pow10Num[exp])
	if sign == numericNeg {
		acc = acc.Negate()
	}
	return acc, nil
}

// appendNumericText appends the exact decimal text of a binary numeric,
// as PostgreSQL prints it: NaN, Infinity and -Infinity by name, otherwise
// digits with exactly dscale fractional digits.
func appendNumericText(dst, v []byte) ([]byte, error) {
	weight, sign, dscale, digits, err := numericHeader(v)
	if err != nil {
		return dst, err
	}
	switch sign {
	case numericNaN:
		return append(dst, "NaN"...), nil
	case numericPInf:
		return append(dst, "Infinity"...), nil
	case numericNInf:
		return append(dst, "-Infinity"...), nil
	case numericNeg:
		dst = append(dst, '-')
	}
	n := len(digits) / 2
	digit := func(i int) int64 {
		if i < 0 || i >= n {
			return 0
		}
		return int64(be.Uint16(digits[2*i:]))
	}
	if weight < 0 {
		dst = append(dst, '0')
	} else {
		dst = strconv.AppendInt(dst, digit(0), 10)
		for i := 1; i <= weight; i++ {
			dst = appendPadded(dst, digit(i))
		}
	}
	if dscale > 0 {
		dst = append(dst, '.')
		for i, left := weight+1, dscale; left > 0; i, left = i+1, left-4 {
			start := len(dst)
			dst = appendPadded(dst, digit(i))
			if left < 4 {
				dst = dst[:start+left]
			}
		}
	}
	return dst, nil
}

// appendPadded appends d (0..9999) as exactly four digits.
func appendPadded(dst []byte, d int64) []byte {
	return append(dst, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
}
