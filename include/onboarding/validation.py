"""Validate customer rows with Great Expectations 1.x; report every broken rule per row.

The suite is built in code from ``rules.py`` inside an ephemeral context, at task
run time only: Great Expectations and pandas are imported inside the functions,
never when the DAG file is parsed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from include.onboarding.rules import Rule, build_rules, derived_values

log = logging.getLogger(__name__)

KEY = "customer_key"
TEXT_COLUMNS = (
    "customer_key",
    "first_name",
    "last_name",
    "organization_name",
    "registration_account",
    "country_code",
    "telephone_number",
    "data_center",
    "tags",
)


def validation_frame(rows: Sequence[Mapping[str, Any]], password_profiles: Mapping[str, Mapping[str, Any]]):
    """A pandas frame of the rows (text as ``str``) plus the derived columns the rules check."""
    import pandas as pd

    records = []
    for row in rows:
        record = {c: (None if row.get(c) is None else str(row[c])) for c in TEXT_COLUMNS}
        record["management_mode"] = row.get("management_mode")
        record.update(derived_values(row, password_profiles.get(str(row[KEY]))))
        records.append(record)
    return pd.DataFrame.from_records(records, columns=_frame_columns()).astype(object)


def _frame_columns() -> list[str]:
    derived = derived_values({}, None)
    return [*TEXT_COLUMNS, "management_mode", *derived]


def expectation_for(rule: Rule):
    """The Great Expectations expectation that implements ``rule``."""
    import great_expectations.expectations as gxe

    meta = {"message": rule.message}
    column = rule.column
    match rule.check:
        case "not_null":
            return gxe.ExpectColumnValuesToNotBeNull(column=column, meta=meta)
        case "not_matching":
            return gxe.ExpectColumnValuesToNotMatchRegex(column=column, regex=rule.value, meta=meta)
        case "matching":
            return gxe.ExpectColumnValuesToMatchRegex(column=column, regex=rule.value, meta=meta)
        case "in_set":
            return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(rule.value), meta=meta)
        case "not_in_set":
            return gxe.ExpectColumnValuesToNotBeInSet(column=column, value_set=list(rule.value), meta=meta)
        case "max_length":
            return gxe.ExpectColumnValueLengthsToBeBetween(column=column, max_value=rule.value, meta=meta)
        case "max_value":
            return gxe.ExpectColumnValuesToBeBetween(column=column, max_value=rule.value, meta=meta)
        case "unique":
            return gxe.ExpectColumnValuesToBeUnique(column=column, meta=meta)
        case "is_true":
            return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=[True], meta=meta)
    raise ValueError(f"unknown check {rule.check!r}")


def validate_rows(
    rows: Sequence[Mapping[str, Any]],
    password_profiles: Mapping[str, Mapping[str, Any]],
    *,
    data_center_family: str,
    onboarded_accounts: set[str] | frozenset[str] = frozenset(),
) -> dict[str, list[str]]:
    """Validate ``rows``; return ``{customer_key: [broken rule, ...]}`` for the rows that fail.

    ``password_profiles`` maps each key to its password's missing flag and lengths
    (see ``CustomerWarehouse.password_profiles``); the password itself never enters
    the frame, so it cannot surface in a validation result.
    """
    if not rows:
        return {}
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    frame = validation_frame(rows, password_profiles)
    rules = build_rules(data_center_family=data_center_family, onboarded_accounts=onboarded_accounts)

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    batch_definition = (
        context.data_sources.add_pandas("warehouse")
        .add_dataframe_asset("customer_rows")
        .add_batch_definition_whole_dataframe("claimed")
    )
    suite = gx.ExpectationSuite(name="avepoint_customer_rows")
    for rule in rules:
        suite.add_expectation(expectation_for(rule))
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        suite,
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [KEY],
            "return_unexpected_index_query": False,
        },
    )

    failures: dict[str, list[str]] = {}
    for item in result.results:
        if item.success:
            continue
        message = item.expectation_config.meta["message"]
        if item.exception_info and item.exception_info.get("raised_exception"):
            # A rule that could not be evaluated must not pass rows silently.
            raise RuntimeError(f"validation rule {message!r} could not be evaluated")
        for entry in item.result.get("unexpected_index_list") or []:
            failures.setdefault(str(entry[KEY]), []).append(message)
    log.info("Validated %d rows against %d rules: %d invalid", len(frame), len(rules), len(failures))
    return failures


def reason_text(messages: Sequence[str]) -> str:
    """One ``status_reason`` listing every broken rule, in plain words."""
    return "; ".join(dict.fromkeys(messages))
