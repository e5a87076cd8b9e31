package crawl

import (
	"fmt"
	"strings"
)

// SchemaDriftError reports objects whose schema does not fit the catalogued
// table: a column whose type changed, or a column the newest object no
// longer has (and the source's schema.json no longer lists). The table is left as it was (no column is retyped or
// dropped, no value coerced) and the objects' partitions are not
// registered. The state machine catches it by this name
// (ErrorEquals: "SchemaDriftError").
type SchemaDriftError struct {
	Changes []DriftChange // at least one
}

// DriftChange is one incompatible difference.
type DriftChange struct {
	Table  string `json:"table"`  // catalog name, e.g. "silver.orders"
	Object string `json:"object"` // the lake key of the object that shows it
	Column string `json:"column"`
	// Kind is "type changed" or "column dropped".
	Kind string `json:"kind"`
	Was  string `json:"was"`           // the catalogued type
	Now  string `json:"now,omitempty"` // the object's type ("" when dropped)
}

// Drift kinds.
const (
	DriftTypeChanged = "type changed"
	DriftDropped     = "column dropped"
)

// Error implements error.
func (e *SchemaDriftError) Error() string {
	var b strings.Builder
	b.WriteString("crawl: schema drift:")
	for i, c := range e.Changes {
		if i > 0 {
			b.WriteString(";")
		}
		if c.Kind == DriftDropped {
			fmt.Fprintf(&b, " %s column %s (%s) dropped in %s", c.Table, c.Column, c.Was, c.Object)
		} else {
			fmt.Fprintf(&b, " %s column %s changed type from %s to %s in %s", c.Table, c.Column, c.Was, c.Now, c.Object)
		}
	}
	b.WriteString(" (only new nullable columns evolve a table; route such rows to discarded or migrate the table)")
	return b.String()
}
