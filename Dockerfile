# Astro Runtime 3.3-7 is the Runtime build of Airflow 3.3.1 (Astronomer's Runtime release notes,
# https://www.astronomer.io/docs/runtime/runtime-release-notes): the Airflow of MWAA 3.3.1 and of
# the constraints the platform test replays this build under (constraints/). The -python-3.12
# distribution: Python 3.12, as on MWAA (Runtime 3.3's default Python is newer). 3.3-8 (Airflow
# 3.3.2, what `make` installs) works too: requirements.txt holds ranges, not pins.
FROM astrocrpublic.azurecr.io/runtime:3.3-7-python-3.12

# The image's ONBUILD steps have run by now: packages.txt, then `pip install -r requirements.txt`
# (before the project is copied, so that file cannot name ./provider), then the project copied into
# /usr/local/airflow. Installed, not editable: a deployment never edits the provider in place, and
# Airflow registers the `avepoint` connection type from the installed package's entry point.
RUN pip install --no-cache-dir ./provider

# tools/local_airflow.py's WORKER_SETTINGS, which says why: without it a task's worker slot stays
# busy up to 5 s after the task has finished.
ENV AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL=1
