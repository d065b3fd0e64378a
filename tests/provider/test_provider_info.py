"""The provider's metadata for Airflow (``get_provider_info``), as Airflow's own schema checks it."""

from __future__ import annotations

import importlib.metadata

import avepoint_provider
from avepoint_provider import get_provider_info


def test_the_provider_info_is_valid_for_airflow_and_names_its_integration():
    from airflow.providers_manager import _create_provider_info_schema_validator

    info = get_provider_info()
    _create_provider_info_schema_validator().validate(info)  # raises on an invalid document
    (integration,) = info["integrations"]
    assert integration["integration-name"] == "AvePoint Graph API"
    assert integration["external-doc-url"].startswith("https://")
    names = {entry["integration-name"] for entry in info["hooks"] + info["operators"]}
    assert names == {integration["integration-name"]}


def test_the_version_has_one_source():
    # The installed distribution's metadata is built from avepoint_provider.__version__.
    assert importlib.metadata.version("airflow-provider-avepoint") == avepoint_provider.__version__
    assert get_provider_info()["versions"] == [avepoint_provider.__version__]
