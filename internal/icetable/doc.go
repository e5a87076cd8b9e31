// Package icetable holds the operations the pipeline performs on the
// lake's Apache Iceberg (format v2) tables, one contract table at a time:
//
//	silver.<table>          every valid row version, append-only, partitioned
//	                        by the contract's transform (month(created_at), ...)
//	silver.<table>_current  one row per primary key: the latest valid version
//	                        by the cursor column, merged object by object
//	discarded.<table>       rejected rows with Glue's data-quality columns,
//	                        append-only, partitioned like silver
//
// Everything is designed around one bronze object, identified by its key
// and ETag (Object):
//
//   - Writer (Lake.NewWriter) streams an object's rows, as Arrow record
//     batches, into Parquet data files of one table with bounded memory.
//     Nothing is committed: it returns Files, a JSON-serialisable list of
//     the files written (path, partition, rows, size, column statistics)
//     that a state passes to the next.
//   - Lake.Commit commits one object's Files in one Iceberg snapshot of
//     their table, with the object's key and ETag in the snapshot summary.
//     A retried or duplicated commit finds its object in the table's
//     history and changes nothing. Concurrent commits retry on conflict;
//     one that runs out of attempts is a *CommitConflictError. For
//     silver.<table>_current the commit is a merge (merge.go): position
//     deletes for the rows the object replaces plus its rows, in one
//     RowDelta, deciding by the cursor and not by arrival.
//   - Lake.Plan lists a table's data files and position-delete files at
//     its current snapshot or at a time, and Plan.DuckDB turns that into
//     SQL that DuckDB runs offline.
//   - Lake.Maintain compacts small files, folds delete files into data
//     files, expires old snapshots and removes orphan files. It compacts
//     silver.<table>_current sorted by primary key into files whose key
//     ranges do not overlap, each with a key index beside it (sorted.go,
//     keyindex.go), so that a merge finds its keys without reading the
//     table's data files.
//
// Schema drift: a new nullable column in the object adds a column to the
// table (schema evolution); a changed type or a missing column is a
// *SchemaDriftError.
//
// Tables live where internal/icecatalog puts them (<lake>/<namespace>/
// <name>/{data,metadata}/) and every byte goes through the lake's store
// (internal/icebergio). docs/iceberg.md describes the layout, the merge,
// maintenance, what Athena reads and why the commits are safe.
//
// Pure Go: the Lambdas import it. Plan's DuckDB SQL is run by the lake
// command's query path.
package icetable
