"""Names the DAG file needs at parse time: task ids and the pool.

A module of plain constants, so that parsing the DAG (in the scheduler's parse loop and again in
every task process) imports nothing else from the project.
"""

from __future__ import annotations

POOL = "avepoint_api"
PREPARE_TASK_ID = "prepare_table"
CLAIM_TASK_ID = "claim_customers"
VALIDATE_TASK_ID = "validate_customers"
