# Astro Runtime 3.3-8 is the Runtime build of Airflow 3.3.2, the version the Makefile pins
# (AIRFLOW_VERSION); 3.3-7 is still Airflow 3.3.1. The -python-3.12 distribution: no Python 3.11
# build of Runtime 3.3 is listed (3.12 and later), and 3.12 is the closest to the Python 3.11 that
# `make` and the tests use; the compiled pins (pandas, numpy, psycopg-binary, ...) have 3.12 wheels.
FROM astrocrpublic.azurecr.io/runtime:3.3-8-python-3.12

# The image's ONBUILD steps have run by now: packages.txt, then `pip install -r requirements.txt`
# (before the project is copied, so that file cannot name ./provider), then the project copied into
# /usr/local/airflow. Installed, not editable: a deployment never edits the provider in place, and
# Airflow registers the `avepoint` connection type from the installed package's entry point.
RUN pip install --no-cache-dir ./provider

# tools/local_airflow.py's WORKER_SETTINGS, which says why: without it a task's worker slot stays
# busy up to 5 s after the task has finished.
ENV AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL=1
