"""### refresh_pedestrians: a DAG written by hand from mlcycle's operators

An example for when the factory does not fit. The factory chains `train_<p>`, `evaluate_<p>` and
`register_<p>` through Assets (three DAGs, each with its own trigger). This DAG does the same three steps
**in one run**: train on the window, gate the new version with Evidently, promote it if it passed.
Use it when one run should give the whole answer, e.g. an on-call retrain after a fix to the data.

How it is put together (see docs/adding-a-pipeline.md, "Writing a DAG by hand"):
- the operators are the ones the factory uses; each takes the pipeline name and loads its config at
  run time, so this file imports nothing heavy and parses as fast as the factory's DAGs;
- `outlets=[]` on `train` and `evaluate`: this run gates and promotes its own model, so it must not
  also wake `evaluate_pedestrians` and `register_pedestrians` through `candidate.pedestrians` and
  `evaluated.pedestrians`;
- the version passes from task to task through XCom (`train` returns it), never a model or a frame;
- `register` runs in the one-slot promotion pool, as `register_pedestrians` does, so promotions of
  this DAG and of the factory's DAGs never overlap;
- owner, retries, tags and this doc are set here: the DAG integrity tests hold hand-written DAGs to the
  same rules as the factory's.
"""

import datetime as dt

from airflow.sdk import DAG

from mlcycle import settings
from mlcycle.orchestration.factory import configured, training_params
from mlcycle.orchestration.operators import EvaluateOperator, RegisterOperator, TrainOperator

PIPELINE = "pedestrians"
CONFIG = configured(PIPELINE)  # YAML only; None where the pipeline is not configured: then no DAG
VERSION = "{{ ti.xcom_pull(task_ids='train')['version'] }}"

if CONFIG is not None:
    with DAG(
        dag_id=f"refresh_{PIPELINE}",
        description="train -> Evidently gate -> promote in one run (hand-written example)",
        doc_md=__doc__,
        schedule=None,
        start_date=dt.datetime(2019, 1, 1, tzinfo=dt.UTC),
        catchup=False,
        max_active_runs=1,
        tags=[PIPELINE, "regression", "mlcycle", "hand-written"],
        default_args={"owner": "ml-platform", "retries": 2, "retry_delay": dt.timedelta(minutes=1)},
        params=training_params(CONFIG),
    ) as dag:
        train = TrainOperator(task_id="train", pipeline=PIPELINE, outlets=[])
        gate = EvaluateOperator(task_id="evaluate", pipeline=PIPELINE, version=VERSION, outlets=[])
        promote = RegisterOperator(task_id="register", pipeline=PIPELINE, version=VERSION, pool=settings.PROMOTION_POOL)
        train >> gate >> promote
