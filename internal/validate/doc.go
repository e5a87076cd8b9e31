// Package validate is the pipeline's validate step: for one bronze object
// version (bronze/landing/<table>/...) it resolves the table's contract
// and DQDL ruleset (internal/bronze), evaluates the ruleset in one
// streaming pass over the rules' columns (internal/dq), and keeps two
// results keyed by the object's stem (its key and ETag): the Glue-shaped
// result at _meta/dq/<table>/<stem>.json, and the row-level outcome, the
// row log, at _meta/dqrows/<table>/<stem>.rowlog, which the route step
// splits the rows by without evaluating anything again. It returns only
// counts, the verdict and keys, small enough for any Step Functions
// payload; that output is the route step's input.
//
// Imported by the route step, the pipeline's tasks and the lake command.
// docs/route.md describes the verdicts and the bad-input rules.
package validate
