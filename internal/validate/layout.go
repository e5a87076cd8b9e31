package validate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/medallionlake/lake/internal/store"
)

// LandingPrefix is where bronze objects land, one folder per table.
const LandingPrefix = "bronze/landing/"

// maxStemName bounds the readable part of a stem, so that every output
// key stays far below S3's 1024-byte limit.
const maxStemName = 160

// TableOf returns the table of a bronze object key
// (bronze/landing/<table>/<rest>), or an *ObjectKeyError.
func TableOf(key string) (string, error) {
	if err := store.ValidateKey(key); err != nil {
		return "", &ObjectKeyError{Key: key, Msg: err.Error()}
	}
	rest, ok := strings.CutPrefix(key, LandingPrefix)
	if !ok {
		return "", &ObjectKeyError{Key: key, Msg: "not under " + LandingPrefix}
	}
	table, file, ok := strings.Cut(rest, "/")
	if !ok || file == "" {
		return "", &ObjectKeyError{Key: key, Msg: "not under " + LandingPrefix + "<table>/"}
	}
	return table, nil
}

// NormalizeETag strips the double quotes S3 puts around ETags, so that an
// event's ETag (unquoted) and a HEAD's (quoted) compare equal.
func NormalizeETag(etag string) string { return strings.Trim(etag, `"`) }

// Stem is the deterministic name of everything the route step writes for
// one version of one bronze object: the key's path below the table's
// landing folder with "/" as "_" and without ".parquet" (at most its last
// 160 bytes), "-", and 12 hex digits of SHA-256(key, ETag). A retry or a
// duplicate event of the same version gets the same stem, so it
// overwrites its own outputs; a new version of the object gets a new one.
func Stem(key, etag string) string {
	name := key
	if table, err := TableOf(key); err == nil {
		name = strings.TrimPrefix(key, LandingPrefix+table+"/")
	}
	name = strings.ReplaceAll(strings.TrimSuffix(name, ".parquet"), "/", "_")
	if len(name) > maxStemName {
		cut := len(name) - maxStemName
		for cut < len(name) && !utf8.RuneStart(name[cut]) {
			cut++
		}
		name = name[cut:]
	}
	h := sha256.Sum256([]byte(key + "\x00" + NormalizeETag(etag)))
	return name + "-" + hex.EncodeToString(h[:6])
}

// Keys are the lake keys of one bronze object version's outputs.
type Keys struct {
	Table string
	Stem  string
	// File is the bronze object's file name (its key's last segment).
	File string
}

// KeysFor returns the output keys of the bronze object key at etag.
func KeysFor(table, key, etag string) Keys {
	return Keys{Table: table, Stem: Stem(key, etag), File: path.Base(key)}
}

// Archive is archive/<table>/<stem>/<file>: the original bytes.
func (k Keys) Archive() string { return "archive/" + k.Table + "/" + k.Stem + "/" + k.File }

// Quarantine is discarded/<table>/quarantine/<stem>/<file>: the original
// bytes of an unusable object.
func (k Keys) Quarantine() string { return k.quarantineDir() + k.File }

// QuarantineReport is the report.json next to a quarantined object.
func (k Keys) QuarantineReport() string { return k.quarantineDir() + "report.json" }

func (k Keys) quarantineDir() string {
	return "discarded/" + k.Table + "/quarantine/" + k.Stem + "/"
}

// DiscardedRows is part n of the rejected rows:
// discarded/<table>/rows/<stem>.parquet, then <stem>-1.parquet, ...
func (k Keys) DiscardedRows(part int) string {
	return partKey("discarded/"+k.Table+"/rows/", k.Stem, part)
}

// Silver is part n of the valid rows of one partition (e.g. "dt=2026-11-26"):
// silver/staging/<table>/<partition>/<stem>.parquet, then <stem>-1.parquet, ...
func (k Keys) Silver(partition string, part int) string {
	return partKey("silver/staging/"+k.Table+"/"+partition+"/", k.Stem, part)
}

// DQResult is _meta/dq/<table>/<stem>.json: the full evaluation.
func (k Keys) DQResult() string { return "_meta/dq/" + k.Table + "/" + k.Stem + ".json" }

// RouteRecord is _meta/routes/<table>/<stem>.json, written last by the
// route step: its presence marks the object version done.
func (k Keys) RouteRecord() string { return "_meta/routes/" + k.Table + "/" + k.Stem + ".json" }

func partKey(prefix, stem string, part int) string {
	if part == 0 {
		return prefix + stem + ".parquet"
	}
	return fmt.Sprintf("%s%s-%d.parquet", prefix, stem, part)
}
