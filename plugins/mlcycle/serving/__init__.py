"""Online serving of each pipeline's champion: a FastAPI app (:mod:`~mlcycle.serving.app`) that loads only a
servable champion, swaps it in place when ``champion`` moves, runs a pending challenger in shadow and logs
every request to the lake. May import the base, ``core`` and ``stages``; never Airflow."""
