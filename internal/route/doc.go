// Package route is the pipeline's route step: for one bronze object that
// the validate step (internal/validate) has judged, it archives the
// original bytes, writes the valid rows to silver/staging/<table>/,
// Hive-partitioned by the contract's partition column, the invalid rows to
// discarded/<table>/rows/ with Glue's row-level data-quality columns, or
// the whole object to discarded/<table>/quarantine/ when it is unusable,
// records what it did under _meta/routes/, and only then deletes the
// bronze object. Every output key is a function of the source key and its
// ETag, so retries and duplicate events overwrite instead of duplicating.
//
// Route does not trust the verdict it is given: it evaluates the object
// again in its own first pass (deterministically: the rules' now() is the
// object's Last-Modified time) and routes by that evaluation.
//
// Imported by the route Lambda and the lake command. docs/route.md
// describes the layout, the verdicts and the guarantees.
package route
