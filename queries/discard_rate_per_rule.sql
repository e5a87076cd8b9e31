-- Discard rate per rule: rejected rows that failed each data-quality rule, out of every row evaluated (silver and discarded).
WITH failed AS (
  SELECT rule, count(*) AS failed_rows
  FROM discarded.orders
  CROSS JOIN UNNEST(dataqualityrulesfail) AS f(rule)
  GROUP BY rule
), evaluated AS (
  SELECT (SELECT count(*) FROM silver.orders) + (SELECT count(*) FROM discarded.orders) AS n
)
SELECT rule, failed_rows, evaluated.n AS evaluated_rows,
       round(100.0 * failed_rows / evaluated.n, 2) AS discard_pct
FROM failed CROSS JOIN evaluated
ORDER BY failed_rows DESC, rule
