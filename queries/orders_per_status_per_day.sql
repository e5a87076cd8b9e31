-- Orders per status per day: the latest version of each order (silver.orders_current), counted by its creation day and its current status.
SELECT CAST(created_at AS DATE) AS day, status, count(*) AS orders, sum(amount) AS amount
FROM silver.orders_current
GROUP BY CAST(created_at AS DATE), status
ORDER BY day, status
