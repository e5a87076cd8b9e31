// Package layout is the lake's layout: every key and prefix the pipeline
// reads or writes, the catalog's database and table names, and the table
// schema record that ingest writes (_meta/tables/<table>/schema.json) with
// its one reader (ReadSchema).
// Everything else here is a pure function of its arguments, so a key is
// spelled in exactly one place.
//
//	bronze/landing/<table>/...                      extracted objects, until committed
//	archive/<table>/<stem>/<file>                   every bronze object, byte for byte
//	silver/<table>/{data,metadata}/                 Iceberg table: every valid version
//	silver/<table>_current/{data,metadata}/         Iceberg table: latest valid version per key
//	discarded/<table>/{data,metadata}/              Iceberg table: rejected rows + DQ columns
//	discarded/<table>/quarantine/<stem>/            unusable objects, whole, + report.json
//	_meta/tables/<table>/schema.json                columns of the last extract
//	_meta/watermarks/<table>.json (+ history/)      watermarks
//	_meta/watermarks/pending/<table>.json           bounds of an extract not committed yet
//	_meta/dq/<table>/<stem>.json                    Glue-shaped DQ result
//	_meta/dqrows/<table>/<stem>.rowlog              row-level DQ result (route's input)
//	_meta/routes/<table>/<stem>.json                route record
//	_meta/executions/, _meta/failures/, _meta/catalog/, _meta/serve/   local runner and catalog
//
// A stem (Stem) names everything derived from one version of one bronze
// object, so a retried step overwrites its own outputs.
//
// Imported by every step, the local runner, the catalog backends and the
// query layer.
package layout

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/medallionlake/lake/internal/store"
)

// Top-level prefixes of the lake.
const (
	LandingPrefix   = "bronze/landing/"
	DiscardedPrefix = "discarded/"
	ArchivePrefix   = "archive/"
	MetaPrefix      = "_meta/"
)

// Catalog databases.
const (
	DatabaseSilver    = "silver"
	DatabaseDiscarded = "discarded"
	DatabaseMeta      = "meta"
)

// Databases are the catalog's databases, in pipeline order.
var Databases = []string{DatabaseSilver, DatabaseDiscarded, DatabaseMeta}

// Area is one top-level area of the lake, as `lake run` counts it.
type Area struct {
	Name   string
	Prefix string
}

// Areas are the lake's areas of whole objects (not tables) in pipeline
// order: bronze objects waiting in landing, and their archived copies.
var Areas = []Area{
	{"bronze", LandingPrefix},
	{"archive", ArchivePrefix},
}

// ErrNotLanding is returned (wrapped) by TableOf for a key outside
// bronze/landing/<table>/.
var ErrNotLanding = errors.New("not a bronze object key")

// Landing is the prefix of a table's bronze objects.
func Landing(table string) string { return LandingPrefix + table + "/" }

// BronzeObject is the key of part n of an extract of table: rows whose
// cursor is in [from, to) and whose key is in keyRange ("all", or
// "<lo|min>_<hi|max>"):
//
//	bronze/landing/<table>/<from>_<to>/<keyRange>/part-<n>.parquet
func BronzeObject(table, from, to, keyRange string, part int) string {
	return fmt.Sprintf("%s%s_%s/%s/part-%05d.parquet", Landing(table), from, to, keyRange, part)
}

// TableOf returns the table of a bronze object key
// (bronze/landing/<table>/<rest>), or an error wrapping ErrNotLanding.
// It does not validate the key as a store key.
func TableOf(key string) (string, error) {
	rest, ok := strings.CutPrefix(key, LandingPrefix)
	if !ok {
		return "", fmt.Errorf("not under %s: %w", LandingPrefix, ErrNotLanding)
	}
	table, file, ok := strings.Cut(rest, "/")
	if !ok || table == "" || file == "" {
		return "", fmt.Errorf("not under %s<table>/: %w", LandingPrefix, ErrNotLanding)
	}
	return table, nil
}

// maxStemName bounds the readable part of a stem, so that every output
// key stays far below S3's 1024-byte limit.
const maxStemName = 160

// Stem is the deterministic name of everything derived from one version
// of one bronze object: the key's path below the table's landing folder
// with "/" as "_" and without ".parquet" (at most its last 160 bytes),
// "-", and 12 hex digits of SHA-256(key, ETag). A retry or a duplicate
// event of the same version gets the same stem, so it overwrites its own
// outputs; a new version of the object gets a new one.
func Stem(key, etag string) string {
	name := key
	if table, err := TableOf(key); err == nil {
		name = strings.TrimPrefix(key, Landing(table))
	}
	name = strings.ReplaceAll(strings.TrimSuffix(name, ".parquet"), "/", "_")
	if len(name) > maxStemName {
		cut := len(name) - maxStemName
		for cut < len(name) && !utf8.RuneStart(name[cut]) {
			cut++
		}
		name = name[cut:]
	}
	h := sha256.Sum256([]byte(key + "\x00" + store.NormalizeETag(etag)))
	return name + "-" + hex.EncodeToString(h[:6])
}

// Keys are the keys of everything derived from one bronze object version.
type Keys struct {
	Table string
	Stem  string
	// File is the bronze object's file name (its key's last segment).
	File string
}

// KeysFor returns the keys derived from the bronze object key at etag.
func KeysFor(table, key, etag string) Keys {
	return Keys{Table: table, Stem: Stem(key, etag), File: path.Base(key)}
}

// Archive is archive/<table>/<stem>/<file>: the original bytes.
func (k Keys) Archive() string { return ArchivePrefix + k.Table + "/" + k.Stem + "/" + k.File }

// KeysOfCopy returns the Keys of the object whose archived copy
// (archive/<table>/<stem>/<file>) or quarantined copy
// (discarded/<table>/quarantine/<stem>/<file>, or its report.json) key
// is, and whether it is a quarantined one; the file of a report's Keys is
// empty.
func KeysOfCopy(key string) (k Keys, quarantined bool, err error) {
	var parts []string
	if rest, ok := strings.CutPrefix(key, ArchivePrefix); ok {
		parts = strings.Split(rest, "/")
	} else if rest, ok := strings.CutPrefix(key, DiscardedPrefix); ok {
		parts = strings.Split(rest, "/")
		if len(parts) == 4 && parts[1] == "quarantine" {
			parts, quarantined = []string{parts[0], parts[2], parts[3]}, true
		} else {
			parts = nil
		}
	}
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return Keys{}, false, fmt.Errorf("layout: %q is neither %s<table>/<stem>/<file> nor %s<table>/quarantine/<stem>/<file>", key, ArchivePrefix, DiscardedPrefix)
	}
	k = Keys{Table: parts[0], Stem: parts[1], File: parts[2]}
	if quarantined && k.File == "report.json" {
		k.File = ""
	}
	return k, quarantined, nil
}

// Quarantine is discarded/<table>/quarantine/<stem>/<file>: the original
// bytes of an unusable object.
func (k Keys) Quarantine() string { return k.quarantineDir() + k.File }

// QuarantineReport is the report.json next to a quarantined object.
func (k Keys) QuarantineReport() string { return k.quarantineDir() + "report.json" }

func (k Keys) quarantineDir() string {
	return DiscardedPrefix + k.Table + "/quarantine/" + k.Stem + "/"
}

// DQResult is _meta/dq/<table>/<stem>.json: the Glue-shaped evaluation.
func (k Keys) DQResult() string { return DQResultsPrefix + k.Table + "/" + k.Stem + ".json" }

// RowLog is _meta/dqrows/<table>/<stem>.rowlog: the row-level outcome of
// the evaluation, which the route step splits the rows by.
func (k Keys) RowLog() string { return MetaPrefix + "dqrows/" + k.Table + "/" + k.Stem + ".rowlog" }

// RouteRecord is _meta/routes/<table>/<stem>.json, written last by the
// route step: its presence marks the object version routed.
func (k Keys) RouteRecord() string { return RouteRecords(k.Table) + k.Stem + ".json" }

// RoutesPrefix holds the route records of every table.
const RoutesPrefix = MetaPrefix + "routes/"

// RouteRecords is the prefix of table's route records ("": every table's).
func RouteRecords(table string) string {
	if table == "" {
		return RoutesPrefix
	}
	return RoutesPrefix + table + "/"
}

// Catalog names: tables are the contract's name in lower case (Glue and
// Athena fold names to lower case).
func CatalogName(table string) string { return strings.ToLower(table) }

// IcebergLocation is the folder of the Iceberg table namespace.name
// (silver.orders, silver.orders_current, discarded.orders): its data/ and
// metadata/ folders are under it.
func IcebergLocation(namespace, name string) string { return namespace + "/" + name + "/" }

// CurrentName is the name of the table's latest-version-per-key table.
func CurrentName(table string) string { return CatalogName(table) + "_current" }

// Meta records.
const (
	DQResultsPrefix  = MetaPrefix + "dq/"
	ExecutionsPrefix = MetaPrefix + "executions/"
	FailuresPrefix   = MetaPrefix + "failures/"
	CatalogPrefix    = MetaPrefix + "catalog/"
	ServePrefix      = MetaPrefix + "serve/objects/"
	// ServeLease is the lease a `lake serve` holds while it serves a lake,
	// so that one process at a time serves it.
	ServeLease       = MetaPrefix + "serve/lease.json"
	watermarksPrefix = MetaPrefix + "watermarks/"
	// WatermarkHistoryPrefix holds every watermark advance of every table.
	WatermarkHistoryPrefix = watermarksPrefix + "history/"
)

// Execution is the key of one file of a local execution's record:
// "execution.json" (as DescribeExecution) or "history.json".
func Execution(name, file string) string { return ExecutionsPrefix + name + "/" + file }

// ExecutionLeasesPrefix holds the leases of running local executions.
const ExecutionLeasesPrefix = MetaPrefix + "leases/executions/"

// ExecutionLease is the key of a running local execution's lease.
func ExecutionLease(name string) string { return ExecutionLeasesPrefix + name + ".json" }

// StateMachinesPrefix holds the state machines created through the
// served Step Functions API.
const StateMachinesPrefix = MetaPrefix + "statemachines/"

// Failure is the key of an execution's failure record.
func Failure(execution string) string { return FailuresPrefix + execution + ".json" }

// Watermark is the key of a table's current watermark record.
func Watermark(table string) string { return watermarksPrefix + table + ".json" }

// IngestPending is the key of the bounds of a table's extract that
// started and has not advanced the watermark yet.
func IngestPending(table string) string { return watermarksPrefix + "pending/" + table + ".json" }

// WatermarkHistory is the prefix of a table's watermark history.
func WatermarkHistory(table string) string { return WatermarkHistoryPrefix + table + "/" }

// WatermarkHistoryRecord is the history record of an advance to the
// watermark rendered as at (sortable, so keys sort in time order).
func WatermarkHistoryRecord(table, at string) string { return WatermarkHistory(table) + at + ".json" }

// ServeMarker is the key of `lake serve`'s marker for a version of a
// bronze object: a hash of the key and ETag.
func ServeMarker(key, etag string) string {
	h := sha256.Sum256([]byte(key + "\x00" + store.NormalizeETag(etag)))
	return ServePrefix + hex.EncodeToString(h[:16]) + ".json"
}

// MetaTable is a meta table: JSON records under a prefix of _meta/.
type MetaTable struct {
	Name     string
	Location string
	// File is the records' file name when other objects share the
	// location; empty for any .json object.
	File        string
	Description string
}

// MetaTables are the catalog's meta tables.
var MetaTables = []MetaTable{
	{"watermarks", WatermarkHistoryPrefix, "", "every watermark advance of every table (ingest)"},
	{"dq_results", DQResultsPrefix, "", "one Glue-shaped data-quality result per bronze object"},
	{"executions", ExecutionsPrefix, "execution.json", "local state machine executions (lake run); in AWS, Step Functions keeps them"},
}
