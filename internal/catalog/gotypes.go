package catalog

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// RecordColumns are the catalog columns of the JSON records that
// encoding/json writes for values of the struct type t: one column per
// exported field, named by its json tag in lower case, in field order
// (embedded structs' fields inline, as encoding/json does). Strings, and
// times and raw JSON (which encode as text or any JSON), are string;
// integers bigint; floats double; bools boolean; slices array<T>; maps
// map<string,T>; structs struct<...>; a Typed type what it says. It is how the meta tables are
// catalogued without reading a record.
func RecordColumns(t reflect.Type) ([]Column, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("catalog: %s is not a struct", t)
	}
	var cols []Column
	err := fields(t, func(name string, ft reflect.Type) error {
		typ, err := goType(ft)
		if err != nil {
			return fmt.Errorf("catalog: %s.%s: %w", t, name, err)
		}
		cols = append(cols, Column{Name: name, Type: typ})
		return nil
	})
	return cols, err
}

// Typed is implemented by types that encode as JSON of their own shape
// (json.Marshaler) to give that shape's catalog type, e.g.
// "struct<us:string,utc:string>". Other marshalers are typed string.
type Typed interface {
	CatalogType() string
}

var (
	typed         = reflect.TypeFor[Typed]()
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// fields calls f with the JSON name (lower case) and type of each field
// that encoding/json writes for struct type t.
func fields(t reflect.Type, f func(name string, ft reflect.Type) error) error {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if tag == "-" || (!sf.IsExported() && !sf.Anonymous) {
			continue
		}
		ft := sf.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if sf.Anonymous && tag == "" && ft.Kind() == reflect.Struct {
			if err := fields(ft, f); err != nil {
				return err
			}
			continue
		}
		if tag == "" {
			tag = sf.Name
		}
		if err := f(strings.ToLower(tag), ft); err != nil {
			return err
		}
	}
	return nil
}

func goType(t reflect.Type) (string, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(typed) {
		return reflect.Zero(t).Interface().(Typed).CatalogType(), nil
	}
	if t.Implements(jsonMarshaler) || t.Implements(textMarshaler) ||
		reflect.PointerTo(t).Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(textMarshaler) {
		return "string", nil // times, raw JSON, and the like encode as text or any JSON
	}
	switch t.Kind() {
	case reflect.String:
		return "string", nil
	case reflect.Bool:
		return "boolean", nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return "bigint", nil
	case reflect.Float32, reflect.Float64:
		return "double", nil
	case reflect.Slice, reflect.Array:
		e, err := goType(t.Elem())
		if err != nil {
			return "", err
		}
		return "array<" + e + ">", nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return "", fmt.Errorf("map key %s is not a string", t.Key())
		}
		e, err := goType(t.Elem())
		if err != nil {
			return "", err
		}
		return "map<string," + e + ">", nil
	case reflect.Struct:
		var parts []string
		err := fields(t, func(name string, ft reflect.Type) error {
			typ, err := goType(ft)
			parts = append(parts, name+":"+typ)
			return err
		})
		if err != nil {
			return "", err
		}
		return "struct<" + strings.Join(parts, ",") + ">", nil
	}
	return "", fmt.Errorf("type %s has no catalog type", t)
}
