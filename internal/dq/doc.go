// Package dq evaluates a DQDL ruleset (internal/dqdl) over the Arrow
// record batches of one Parquet object and shapes the outcome like AWS
// Glue Data Quality's: per rule Rule, Outcome (Passed/Failed/Error),
// FailureReason and EvaluatedMetrics with Glue's metric names; for the
// object Score and AggregatedMetrics (TotalRowsProcessed/Passed/Failed,
// TotalRulesProcessed/Passed/Failed); and a Verdict for the workflow:
// PASS, SPLIT or REJECT. It is imported by the validate and route steps
// and by `lake validate`.
//
// # Levels
//
// Row-level rules tag each row: ColumnValues, ColumnLength, IsComplete,
// Completeness, IsUnique, Uniqueness, IsPrimaryKey, DataFreshness, and
// composites made only of those. Dataset-level rules gate the object:
// RowCount, ColumnCount, ColumnExists, Mean, Sum, StandardDeviation,
// DistinctValuesCount, and composites holding any of those. Uniqueness
// rules tag every occurrence of a duplicated value as failed (NULLs are
// never duplicates; IsPrimaryKey fails them as incomplete).
//
// The verdict is REJECT when a rule's outcome is Error, when a
// dataset-level rule fails, or when a row-level rule whose outcome is a
// ratio (with threshold, Completeness, Uniqueness) fails; otherwise SPLIT
// when any row failed a row-level rule; otherwise PASS.
//
// # One pass, bounded memory
//
// Validate streams a Parquet file once, reading only the columns the rules
// name (Evaluator.Columns), in batches of BatchRows rows; row groups are
// decoded ahead by up to GOMAXPROCS goroutines while batches are evaluated
// in file order. Rules that compute the same thing (ruleKey) are evaluated
// once, and uniqueness rules on the same columns and where clause share
// one hash set (uniqGroup). Beyond a few batches, memory holds the hash
// sets, a 2-bit code per row for each uniqueness key and for each rule
// part combined with one, and a bit per row for the failed-row count; it
// is bounded by Options.MemoryBudget: past it, hash sets spill to disk and
// are resolved by external hash aggregation (spill), and per-row state
// that still does not fit is a *MemoryBudgetError, never an out-of-memory
// kill.
//
// # Row-level outcomes (for the router)
//
// The router evaluates nothing. With Options.RowLog set, the evaluator
// writes each row's row-level outcome to a row log while it evaluates,
// and the router splits the object's rows by that log in a pass of its
// own:
//
//	log := dq.NewRowLogWriter(w, meta)                  // meta: the object's key, ETag, ...
//	ev, _ := dq.NewEvaluator(ruleset, src.Schema(), dq.Options{ExpectedRows: src.NumRows(), RowLog: log})
//	_ = src.Batches(ctx, ev.Columns(), ev.Observe)     // the evaluation
//	res, _ := ev.Finish()                               // verdict, metrics
//	_ = log.Close()                                     // the footer, after Finish
//
//	rl, _ := dq.OpenRowLog(r, size)                     // later, in the router
//	cur, _ := rl.Cursor()
//	defer cur.Close()
//	render, _ := rl.Renderer(schema)
//	_ = src.Batches(ctx, cols, func(rec arrow.RecordBatch) error {
//		st, err := cur.Next(int(rec.NumRows()))
//		if err != nil { return err }
//		_ = render.Bind(rec)
//		for i := 0; i < st.Len(); i++ {
//			if st.Passed(i) { /* silver */ } else { o := render.Outcome(st, i, rejected); _ = o /* discarded + o's Glue columns and values */ }
//		}
//		return nil
//	})
//
// (rejected: the object's verdict is REJECT; a PASS or REJECT verdict
// sends every row one way whatever its states.) The log is complete only
// after Finish because a duplicate is known only once every row has been
// seen. RowOutcome carries Glue's
// DataQualityRulesPass, DataQualityRulesFail, DataQualityRulesSkip
// (dataset-level rules, rules whose where clause excluded the row, rules
// in Error) and DataQualityEvaluationResult, plus DataQualityFailedValues:
// the offending value of each failed rule as text.
package dq
