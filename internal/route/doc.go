// Package route is the pipeline's route step: for one bronze object that
// the validate step (internal/validate) has judged, it archives the
// original bytes (a server-side copy, conditional on the version
// validated, checked by ETag or checksum), writes the valid rows as data
// files of the Iceberg tables silver.<table> and silver.<table>_current
// and the invalid rows, with Glue's row-level data-quality columns, as
// data files of discarded.<table> (internal/icetable; partitioned by the
// contract's transform, nothing committed), or copies the whole object to
// discarded/<table>/quarantine/ when it is unusable, and records what it
// wrote in the route record under _meta/routes/: the commit step's input.
// The archive, quarantine and record keys are functions of the source key
// and its ETag, so retries and duplicate events overwrite them instead of
// duplicating; data files get fresh names, and only those a route record
// lists are ever committed.
//
// Route evaluates nothing: it reads the object once and splits its rows by
// the validate step's row log (dq.RowLog), refusing a log written for
// another object or version (*ResultMismatchError).
//
// Imported by the pipeline's tasks and the lake command. docs/route.md
// describes the layout, the verdicts and the guarantees.
package route
