SELECT status, COUNT(*) AS n
FROM {{ table }}
WHERE {% if run_id is not none %}claimed_by = {{ bind('run_id') }}{% else %}1 = 1{% endif %}
GROUP BY status
