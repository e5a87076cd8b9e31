// Package route is the pipeline's route step: for one bronze object that
// the validate step (internal/validate) has judged, it archives the
// original bytes (a server-side copy, conditional on the version
// validated, checked by ETag or checksum), writes the valid rows to
// silver/staging/<table>/, Hive-partitioned by the contract's partition
// column, the invalid rows to discarded/<table>/rows/ with Glue's
// row-level data-quality columns, or the whole object to
// discarded/<table>/quarantine/ when it is unusable, and records what it
// wrote under _meta/routes/: the commit step's input. Every output key is
// a function of the source key and its ETag, so retries and duplicate
// events overwrite instead of duplicating.
//
// Route evaluates nothing: it reads the object once and splits its rows by
// the validate step's row log (dq.RowLog), refusing a log written for
// another object or version (*ResultMismatchError).
//
// Imported by the pipeline's tasks and the lake command. docs/route.md
// describes the layout, the verdicts and the guarantees.
package route
