"""``make report``: the audit export with the local ``airflow_settings.yaml`` filling in the
connections and variables the environment does not set (see :mod:`include.onboarding.report`)."""

from __future__ import annotations

import os
import sys

from include.onboarding.report import main
from tools.airflow_settings import environment, load

if __name__ == "__main__":
    for name, value in environment(load()).items():
        os.environ.setdefault(name, value)
    sys.exit(main())
