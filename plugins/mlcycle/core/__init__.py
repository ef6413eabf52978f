"""The pure domain: lake layout, storage, data contract, quality, versioning, training, gate, monitoring,
registry. No Airflow here (one documented exception: :mod:`object_store` reads S3 settings from an
Airflow connection, lazily, at run time).
"""
