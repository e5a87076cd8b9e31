-- Orders per status per day: the latest version of each order, counted by its creation day (the dt partition) and its current status.
-- The latest version is picked inline (row_number over updated_at; two versions with the same updated_at are ordered
-- by status, so the answer is stable) so that the same text runs on DuckDB and Athena. Locally, silver.orders_current
-- is the latest version as a view, with ties broken by the object the row came from.
SELECT dt AS day, status, count(*) AS orders, sum(amount) AS amount
FROM (
  SELECT dt, status, amount,
         row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC, status) AS version_rank
  FROM silver.orders
) latest
WHERE version_rank = 1
GROUP BY dt, status
ORDER BY day, status
