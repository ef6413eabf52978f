"""Stages: what one task does for one day or one model version, in plain Python, returning decisions.

Operators call these; so do the benchmarks, the demo and anyone running a stage by hand.
"""
