// Package validate is the pipeline's validate step: for one bronze object
// (bronze/landing/<table>/...) it resolves the table's contract and DQDL
// ruleset, checks the object's columns against the table's schema
// (_meta/tables/<table>/schema.json, written by ingest), evaluates the
// ruleset in one streaming pass (internal/dq), keeps the full Glue-shaped
// result under _meta/dq/<table>/<stem>.json and returns only counts, the
// verdict and keys, small enough for any Step Functions payload.
//
// It also owns what the validate and route steps share: the lake layout of
// the route step's outputs (Keys), the deterministic object stem, opening
// and checking a bronze object (Open), and the named errors the state
// machine retries or catches. The route step (internal/route) imports it.
//
// Imported by internal/route, the validate Lambda and the lake command.
// docs/route.md describes the layout, the verdicts and the bad-input rules.
package validate
