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
from include.onboarding.warehouse import INPUT_COLUMNS

log = logging.getLogger(__name__)

KEY = "customer_key"
# Every input column but the password (validation never sees it) and the boolean.
TEXT_COLUMNS = tuple(c for c in INPUT_COLUMNS if c not in ("password", "management_mode"))


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
    frame = validation_frame(rows, password_profiles)
    rules = build_rules(data_center_family=data_center_family, onboarded_accounts=onboarded_accounts)
    return validate_frame(frame, rules)


def validate_frame(frame, rules: Sequence[Rule]) -> dict[str, list[str]]:
    """Run the suite of ``rules`` over a :func:`validation_frame`; the failures per ``customer_key``.

    Separate from :func:`validate_rows` so the benchmark can time Great Expectations on a
    prebuilt frame, exactly as the task runs it. Three choices keep Great Expectations'
    fixed cost down (measured by ``bench`` scenario 5): the context starts with progress
    bars off (setting them afterwards re-serialises the context's config), the suite is
    built in one go (``add_expectation`` compares each new expectation with every earlier
    one), and results carry the failing keys only, not the failing values.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            analytics_enabled=False,
        ),
    )
    batch_definition = (
        context.data_sources.add_pandas("warehouse")
        .add_dataframe_asset("customer_rows")
        .add_batch_definition_whole_dataframe("claimed")
    )
    suite = gx.ExpectationSuite(
        name="avepoint_customer_rows", expectations=[expectation_for(rule) for rule in rules]
    )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        suite,
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [KEY],
            "return_unexpected_index_query": False,
            "exclude_unexpected_values": True,
            "partial_unexpected_count": 0,
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
        for key in _unexpected_keys(item.result.get("unexpected_index_list") or []):
            failures.setdefault(key, []).append(message)
    log.info("Validated %d rows against %d rules: %d invalid", len(frame), len(rules), len(failures))
    return failures


def _unexpected_keys(index_list: Sequence[Mapping[str, Any]]) -> list[str]:
    """The failing keys: GX lists them per row (``{KEY: k}``) or, without values, grouped (``{KEY: [k, ...]}``)."""
    keys: list[str] = []
    for entry in index_list:
        value = entry[KEY]
        keys += [str(k) for k in value] if isinstance(value, list | tuple) else [str(value)]
    return keys


def reason_text(messages: Sequence[str]) -> str:
    """One ``status_reason`` listing every broken rule, in plain words."""
    return "; ".join(dict.fromkeys(messages))
