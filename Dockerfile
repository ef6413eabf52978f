# The mlcycle image: the official Airflow image plus our pinned requirements and code. One image runs
# every Airflow component and the MLflow server of docker-compose.yaml (and the Helm chart's pods).
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

# The base image's default user; pip installs into its home, never as root.
# Only the runtime lock: the test and lint tools of requirements-dev.txt stay out of the image.
USER airflow
COPY --chown=airflow:0 requirements.txt /opt/mlcycle/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==3.3.2" -r /opt/mlcycle/requirements.txt

# Code and configs at the layout settings.py expects: /opt/airflow/{dags,plugins,include}.
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 include/ /opt/airflow/include/

# No .git in the image: the commit recorded on every model version comes from the build.
ARG MLCYCLE_CODE_VERSION=unknown
ENV MLCYCLE_CODE_VERSION=${MLCYCLE_CODE_VERSION} \
    MLCYCLE_HOME=/opt/airflow/state \
    PYTHONPATH=/opt/airflow/plugins \
    GX_ANALYTICS_ENABLED=false \
    DVC_NO_ANALYTICS=1 \
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false
RUN mkdir -p /opt/airflow/state
