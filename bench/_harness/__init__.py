"""What every benchmark shares, in one place; benchmarks only say what they measure and how to show it.

* :mod:`bench._harness.env`: the isolated environment (temporary state folder, built on
  ``mlcycle.tools.stack.stack_env``) and the :class:`~bench._harness.env.Context` a benchmark gets;
* :mod:`bench._harness.workers`: worker processes and their event channel, setup commands, runs that
  alternate the paths (benchmark side);
* :mod:`bench._harness.figures`: printing, tables, medians, ratios, the machine's load;
* :mod:`bench._harness.timing`: inside workers, timed imports, phases, timing shims around calls, DAG files.

Only the standard library and ``mlcycle.tools.stack`` (itself stdlib only) are imported here at the top,
so the benchmark process never loads Airflow, pandas, GX or DVC.
"""
