// Package dqdl parses AWS Glue Data Quality's Data Quality Definition
// Language (DQDL), so that Glue rulesets can be used unchanged.
//
// Parse returns a Ruleset: optional Metadata, constants (name = value, used
// as $name), DefaultLabels, and the Rules list with composite rules
// ((a) and (b), (a) or (b), nested with parentheses), where clauses (a
// documented SQL subset, parsed into Expr), with threshold and per-rule
// labels. A ruleset outside the supported language fails to load with an
// *Error naming the line, the column and what was expected; nothing is
// ignored. Hostile input is bounded by MaxFileSize, MaxDepth, MaxRegexLen,
// MaxRules and MaxPredicates.
//
// It is imported by internal/dq, which evaluates a Ruleset over Arrow data,
// and by the lake command. See docs/dq.md for the supported language.
package dqdl
