package crawl

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/medallionlake/lake/internal/catalog"
)

// maxMetaObjectBytes bounds how much of a meta JSON object is read to infer
// its columns.
const maxMetaObjectBytes = 8 << 20

// fieldRE is what a JSON key must look like to become a column or struct
// field; an object with any other key (e.g. "Column.amount.Completeness")
// is typed as a map.
var fieldRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// jsonColumns infers catalog columns from the first JSON document in r,
// which must be an object: one column per top-level key, in document
// order, named in lower case. Numbers are bigint when integral and double
// otherwise, objects struct<...> (map<string,T> when a key is not an
// identifier), arrays array<T> of their first non-null element; null or
// empty values are string.
func jsonColumns(r io.Reader) ([]catalog.Column, error) {
	dec := json.NewDecoder(io.LimitReader(r, maxMetaObjectBytes))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("decode JSON: %w", err)
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("decode JSON: document is not an object")
	}
	names, types, err := jsonFields(dec)
	if err != nil {
		return nil, err
	}
	cols := make([]catalog.Column, 0, len(names))
	seen := map[string]bool{}
	for i, n := range names {
		if !fieldRE.MatchString(n) || seen[n] {
			return nil, fmt.Errorf("decode JSON: key %q cannot be a column", n)
		}
		seen[n] = true
		cols = append(cols, catalog.Column{Name: n, Type: orString(types[i])})
	}
	return cols, nil
}

// jsonFields reads an object's members after its '{', returning lower-cased
// keys and their types ("" for null).
func jsonFields(dec *json.Decoder) (names, types []string, err error) {
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("decode JSON: %w", err)
		}
		t, err := jsonValueType(dec)
		if err != nil {
			return nil, nil, err
		}
		names = append(names, strings.ToLower(kt.(string)))
		types = append(types, t)
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, nil, fmt.Errorf("decode JSON: %w", err)
	}
	return names, types, nil
}

// jsonValueType reads one value and returns its type, "" for null.
func jsonValueType(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("decode JSON: %w", err)
	}
	switch v := tok.(type) {
	case string:
		return "string", nil
	case bool:
		return "boolean", nil
	case nil:
		return "", nil
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return "bigint", nil
		}
		return "double", nil
	case json.Delim:
		if v == '[' {
			elem := ""
			for dec.More() {
				t, err := jsonValueType(dec)
				if err != nil {
					return "", err
				}
				if elem == "" {
					elem = t
				}
			}
			if _, err := dec.Token(); err != nil { // ']'
				return "", fmt.Errorf("decode JSON: %w", err)
			}
			return "array<" + orString(elem) + ">", nil
		}
		names, types, err := jsonFields(dec)
		if err != nil {
			return "", err
		}
		isMap := len(names) == 0
		seen := map[string]bool{}
		for _, n := range names {
			isMap = isMap || !fieldRE.MatchString(n) || seen[n]
			seen[n] = true
		}
		if isMap {
			elem := ""
			for _, t := range types {
				if elem == "" || elem == t {
					elem = t
				} else if t != "" {
					elem = "string"
				}
			}
			return "map<string," + orString(elem) + ">", nil
		}
		fields := make([]string, len(names))
		for i := range names {
			fields[i] = names[i] + ":" + orString(types[i])
		}
		return "struct<" + strings.Join(fields, ",") + ">", nil
	}
	return "", fmt.Errorf("decode JSON: unexpected token %v", tok)
}

func orString(t string) string {
	if t == "" {
		return "string"
	}
	return t
}
