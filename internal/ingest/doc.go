// Package ingest is the pipeline's first step: it extracts the rows of a
// source PostgreSQL table that changed since the last run, by the table
// contract's cursor column, and lands them as Parquet objects under
// bronze/landing/<table>/ in the lake. The watermark (the cursor value up to
// which everything has been extracted) lives in the lake under
// _meta/watermarks/ and is advanced with a conditional write.
//
// A run is planned, extracted and committed:
//
//   - Plan reads the watermark (lo, and its ETag), fixes the run's exclusive
//     upper bound hi below every transaction still in flight on the source,
//     and splits the table's primary-key space into ranges (work items).
//   - Extract lands the rows with lo <= cursor < hi of one work item, in one
//     REPEATABLE READ, READ ONLY transaction, at deterministic keys.
//   - Commit advances the watermark from lo to hi, only if no other run did
//     so since Plan read it.
//
// Run does all three for one table in one call (the ingest Lambda and
// `lake ingest`); the state machine can also call Plan, Extract (in a Map
// state) and Commit separately for large first loads. docs/ingest.md
// explains the guarantees.
//
// Imported by cmd/lake and the ingest Lambda (tasks/ingest).
package ingest
