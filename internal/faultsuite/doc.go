// Package faultsuite is the fault-injection suite of issue 11: it runs the
// real pipeline (PostgreSQL and versitygw started by internal/testenv, a
// local folder lake where a case needs one) through the faults of an
// operator's bad day, and checks after the faulty run and at most one
// clean rerun that no source row version was lost, duplicated or
// quarantined, that `_current` holds the latest valid version of every
// key, that bronze is empty and that reconcile finds nothing to repair.
//
// The faults: a fault-injecting HTTP proxy in front of versitygw
// (internal/testenv/faultproxy), PostgreSQL backends terminated during
// ingest, a full disk at each write of the pipeline
// (internal/store/faultstore), and `kill -9` of a `lake run` process at
// each step. docs/faults.md lists the cases and their results.
//
// The package has tests only; `go test ./internal/faultsuite/` runs them
// (and so does `make test`).
package faultsuite
