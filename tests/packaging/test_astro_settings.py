"""airflow_settings.yaml is in the shape `astro dev object import` reads (astro-cli settings/types.go)."""

from __future__ import annotations

import json

import yaml

from tests.conftest import ROOT

SETTINGS = yaml.safe_load((ROOT / "airflow_settings.yaml").read_text())
CONNECTION_KEYS = {
    "conn_id",
    "conn_type",
    "conn_host",
    "conn_schema",
    "conn_login",
    "conn_password",
    "conn_port",
    "conn_uri",
    "conn_extra",
}
POOL_KEYS = {"pool_name", "pool_slot", "pool_description"}
VARIABLE_KEYS = {"variable_name", "variable_value"}


def airflow_section() -> dict:
    return SETTINGS["airflow"]


def shell_quoted_values() -> list[str]:
    """Every value astro-cli puts between single quotes in the `airflow ...` command it runs."""
    section = airflow_section()
    values = [
        str(conn[key])
        for conn in section["connections"]
        for key in CONNECTION_KEYS - {"conn_port", "conn_extra"}
        if conn.get(key) is not None
    ]
    values += [json.dumps(conn["conn_extra"]) for conn in section["connections"] if "conn_extra" in conn]
    values += [pool.get("pool_description", "") for pool in section["pools"]]
    values += [variable["variable_value"] for variable in section["variables"]]
    return values


def test_top_level_is_airflow_with_connections_pools_variables():
    assert set(SETTINGS) == {"airflow"}
    assert set(airflow_section()) == {"connections", "pools", "variables"}


def test_connections_use_astro_keys_and_types():
    for conn in airflow_section()["connections"]:
        assert set(conn) <= CONNECTION_KEYS, conn["conn_id"]
        assert isinstance(conn["conn_id"], str) and isinstance(conn["conn_type"], str)
        assert isinstance(conn.get("conn_port", 0), int), conn["conn_id"]
        assert isinstance(conn.get("conn_extra", {}), dict | str), conn["conn_id"]


def test_pools_use_astro_keys_and_a_positive_slot_count():
    for pool in airflow_section()["pools"]:
        assert set(pool) <= POOL_KEYS and "pool_name" in pool
        # astro-cli skips a pool whose pool_slot is 0 or missing.
        assert isinstance(pool["pool_slot"], int) and pool["pool_slot"] > 0


def test_variables_use_astro_keys_and_string_values():
    for variable in airflow_section()["variables"]:
        assert set(variable) == VARIABLE_KEYS
        assert isinstance(variable["variable_value"], str), variable["variable_name"]


def test_no_value_holds_a_single_quote():
    # astro-cli runs e.g. `airflow variables set NAME '<value>'`: a single quote would end the argument.
    assert [value for value in shell_quoted_values() if "'" in value] == []


def test_the_objects_the_dag_needs_are_there():
    section = airflow_section()
    assert {c["conn_id"] for c in section["connections"]} >= {
        "avepoint_default",
        "customer_warehouse",
        "airflow_api",
    }
    assert {p["pool_name"] for p in section["pools"]} >= {"avepoint_api"}
    assert {v["variable_name"] for v in section["variables"]} >= {"avepoint_onboarding"}
    json.loads(
        next(v for v in section["variables"] if v["variable_name"] == "avepoint_onboarding")["variable_value"]
    )
