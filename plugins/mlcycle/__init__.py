"""mlcycle: the model lifecycle on Apache Airflow 3.

Domain modules (config, storage, ingest, versioning, quality, sources) import no Airflow.
``operators/``, ``assets.py`` and ``factory.py`` are the thin Airflow layer on top.
"""
