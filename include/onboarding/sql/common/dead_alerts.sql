-- Alerts set aside after too many failed attempts, for every run's summary and the report.
SELECT COUNT(*) AS n
FROM {{ alerts_table }}
WHERE outcome = :dead
