"""Reference values tests share, taken from the provider's documented data (not from the pipeline)."""

from __future__ import annotations

from avepoint_provider.reference import DATA_CENTERS

# East US (Virginia), a documented commercial data center.
EAST_US = next(guid for guid, (region, _) in DATA_CENTERS.items() if region == "East US (Virginia)")
