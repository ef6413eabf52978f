"""The Airflow layer: DAG factory, operators, sensors, links, notifiers, Assets, the plugin and its UI app.

Everything here translates decisions of :mod:`mlcycle.stages` into Airflow terms (skip, fail, events).
"""
