"""Unit tests of the sandbox's pure parts: reference data, fault settings, dice, bucket, validation."""

from __future__ import annotations

import random

import pytest

from avepoint_sandbox import FaultSettings
from avepoint_sandbox.faults import Draw, TokenBucket, parse_script_action, random_fault
from avepoint_sandbox.reference import COUNTRIES, DATA_CENTERS, normalize_data_center
from avepoint_sandbox.validation import ValidationError, validate_onboarding
from tests.sandbox.helpers import customer_body


def test_reference_data_matches_the_spec() -> None:
    assert len(COUNTRIES) == 249
    assert COUNTRIES["US"] == "United States"
    assert len(DATA_CENTERS) == 18
    assert normalize_data_center("7b9835ec-7299-4177-85e3-ba5cb3b2e0411") is None
    assert normalize_data_center("e44bb3ed-f1d8-4055-8c77-c8fd8cd634092") is None


def test_the_sandbox_and_the_provider_agree_on_the_reference_data() -> None:
    """Each keeps its own copy (the stand-in shares nothing with the client): they must not drift."""
    from avepoint_provider import reference as provider
    from avepoint_sandbox import reference as sandbox

    assert dict(sandbox.COUNTRIES) == provider.COUNTRY_NAMES
    assert dict(sandbox.COMMERCIAL_DATA_CENTERS) == {
        guid: region
        for guid, (region, family) in provider.DATA_CENTERS.items()
        if family == provider.COMMERCIAL
    }
    assert dict(sandbox.GOV_DATA_CENTERS) == {
        guid: region for guid, (region, family) in provider.DATA_CENTERS.items() if family == provider.GOV
    }


def test_fault_settings_merge_and_validate() -> None:
    settings = FaultSettings().merged({"error_rate_500": 1, "apply_to": "onboard, list"})
    assert settings.error_rate_500 == 1
    assert settings.apply_to == ("onboard", "list")
    assert FaultSettings().bucket_size == 1
    assert FaultSettings(rate_limit_per_second=2.5).bucket_size == 3
    assert FaultSettings(rate_limit_per_second=2.5, rate_limit_burst=10).bucket_size == 10
    with pytest.raises(ValueError, match="unknown"):
        FaultSettings().merged({"error_rate_404": 0.1})
    with pytest.raises(ValueError):
        FaultSettings(timeout_rate=True)  # type: ignore[arg-type]


def _draw(value: float) -> Draw:
    return Draw(*([value] * 9))


def test_random_fault_order_and_bounds() -> None:
    everything = FaultSettings(
        rate_429=1.0, error_rate_500=1.0, error_rate_503=1.0, timeout_rate=1.0, lost_response_rate=1.0
    )
    assert random_fault(everything, _draw(0.999)).http_status == 429
    assert random_fault(FaultSettings(error_rate_500=1.0), _draw(0.999999)).http_status == 500
    assert random_fault(FaultSettings(error_rate_500=0.0), _draw(0.0)) is None
    mixed = FaultSettings(lost_response_rate=1.0, lost_response_mode="mixed")
    assert random_fault(mixed, _draw(0.2)).mode == "500"
    assert random_fault(mixed, _draw(0.7)).mode == "drop"
    malformed = FaultSettings(malformed_rate=1.0, malformed_mode="mixed")
    assert [random_fault(malformed, _draw(u)).mode for u in (0.1, 0.5, 0.9)] == [
        "html",
        "truncated",
        "status42",
    ]


def test_draw_is_a_fixed_vector() -> None:
    assert Draw.from_rng(random.Random(1)) == Draw.from_rng(random.Random(1))


def test_processed_flags() -> None:
    assert parse_script_action({"lost": "drop"}, 1).processed
    assert parse_script_action({"malformed": "html"}, 1).processed
    assert not parse_script_action({"malformed": "status42"}, 1).processed
    assert not parse_script_action({"hang": 1}, 1).processed
    assert parse_script_action({"http_status": 429}, 4).retry_after == 4


def test_token_bucket() -> None:
    bucket = TokenBucket(rate=2.0, size=2.0, now=0.0)
    assert bucket.take(0.0) is None
    assert bucket.take(0.0) is None
    assert bucket.take(0.0) == 1
    assert bucket.take(0.5) is None
    slow = TokenBucket(rate=0.25, size=1.0, now=0.0)
    assert slow.take(0.0) is None
    assert slow.take(0.0) == 4


def test_validation_keeps_no_password() -> None:
    request = validate_onboarding(customer_body(tags=["a"]))
    assert "password" not in repr(request).lower()
    with pytest.raises(ValidationError) as caught:
        validate_onboarding(customer_body(countryCode="XX"))
    assert caught.value.field == "countryCode"
    assert "XX" not in str(caught.value)
