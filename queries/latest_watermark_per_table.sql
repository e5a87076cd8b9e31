-- Latest watermark per table: how far each table's incremental extraction has got, when it last advanced, and how often.
SELECT "table", max(watermark.utc) AS watermark, max(advanced_at.utc) AS advanced_at, count(*) AS advances, sum("rows") AS rows_extracted
FROM meta.watermarks
GROUP BY "table"
ORDER BY "table"
