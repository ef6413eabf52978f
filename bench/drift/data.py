"""The synthetic data of the drift benchmark: 16 numeric and 4 categorical columns, and shift scenarios.

Generated with numpy in each worker, with fixed seeds (numpy, pandas and scipy are imported inside the
functions: the benchmark process only reads the names and scenarios).
"""

from __future__ import annotations

MAIN_SEED = 0
NUMERIC = ["normal", "normal_50_10_missing", "lognormal", "exponential", "gamma", "beta", "uniform", "student_t5",
           "chisquare3", "laplace", "logistic", "weibull", "poisson_int", "binomial_int", "bimodal", "lognormal_heavy"]
CATEGORICAL = ["cat_uniform8", "cat_zipf12", "cat_geometric10", "cat_dominant9"]
COLUMNS = NUMERIC + CATEGORICAL

# The 1M-row scenario: numeric shifts in reference std, categorical shifts as Jensen-Shannon distance.
MAIN_SHIFTS = {"normal": 0.03, "normal_50_10_missing": 0.06, "lognormal": 0.09, "exponential": 0.11, "gamma": 0.15,
               "beta": 0.2, "uniform": 0.3, "student_t5": 0.5, "chisquare3": 1.0,
               "cat_uniform8": 0.05, "cat_zipf12": 0.2}
SCENARIOS = {
    "main": "11 of 20 columns shifted: numeric by 0.03-1.0 sd (two at 0.09 and 0.11, next to the 0.1 threshold), "
            "2 categorical to JS 0.05 and 0.2",
    "none": "no shift",
    "small": "12 numeric columns by 0.04 sd, 2 categorical to JS 0.04 (all below the 0.1 thresholds)",
    "mixed": "every column by a random amount per seed: numeric 0-0.25 sd, categorical JS 0-0.2",
    "large": "12 numeric columns by 0.3 sd, 2 categorical to JS 0.25",
    "categorical": "the 4 categorical columns to JS 0.15, numeric unchanged",
}
AGREEMENT_SCENARIOS = ["none", "small", "mixed", "large", "categorical"]


def shifts(scenario: str, seed: int) -> dict[str, float]:
    import numpy as np

    if scenario == "main":
        return dict(MAIN_SHIFTS)
    if scenario == "none":
        return {}
    if scenario == "small":
        return {**dict.fromkeys(NUMERIC[:12], 0.04), **dict.fromkeys(CATEGORICAL[:2], 0.04)}
    if scenario == "large":
        return {**dict.fromkeys(NUMERIC[:12], 0.3), **dict.fromkeys(CATEGORICAL[:2], 0.25)}
    if scenario == "categorical":
        return dict.fromkeys(CATEGORICAL, 0.15)
    if scenario == "mixed":
        rng = np.random.default_rng([seed, 99])
        return {**{c: float(rng.uniform(0, 0.25)) for c in NUMERIC}, **{c: float(rng.uniform(0, 0.2))
                                                                          for c in CATEGORICAL}}
    raise ValueError(f"unknown scenario {scenario}")


def _numeric(rng, name: str, n: int, delta: float, std: float):
    """One numeric column; ``delta`` moves it by that many reference standard deviations (``std``)."""
    import numpy as np

    if name == "poisson_int":  # counts: shift the rate so the mean moves by delta sd (W1 = mean difference)
        return rng.poisson(4.0 + delta * 2.0, n)
    if name == "binomial_int":
        sd = (20 * 0.3 * 0.7) ** 0.5
        return rng.binomial(20, min(0.3 + delta * sd / 20, 1.0), n)
    draw = {
        "normal": lambda: rng.normal(0, 1, n),
        "normal_50_10_missing": lambda: rng.normal(50, 10, n),
        "lognormal": lambda: rng.lognormal(0, 0.5, n),
        "exponential": lambda: rng.exponential(1.0, n),
        "gamma": lambda: rng.gamma(2.0, 2.0, n),
        "beta": lambda: rng.beta(2.0, 5.0, n),
        "uniform": lambda: rng.uniform(0, 1, n),
        "student_t5": lambda: rng.standard_t(5, n),
        "chisquare3": lambda: rng.chisquare(3, n),
        "laplace": lambda: rng.laplace(0, 1, n),
        "logistic": lambda: rng.logistic(0, 1, n),
        "weibull": lambda: rng.weibull(1.5, n),
        "bimodal": lambda: np.where(rng.random(n) < 0.6, rng.normal(-2, 1, n), rng.normal(3, 1.5, n)),
        "lognormal_heavy": lambda: rng.lognormal(0, 1.0, n),
    }[name]
    values = draw()
    if delta:
        values += delta * std
    if name == "normal_50_10_missing":
        values[rng.random(n) < 0.02] = np.nan
    return values


def _categories(name: str):
    import numpy as np

    k = {"cat_uniform8": 8, "cat_zipf12": 12, "cat_geometric10": 10, "cat_dominant9": 9}[name]
    if name == "cat_uniform8":
        p = np.ones(k)
    elif name == "cat_zipf12":
        p = 1.0 / np.arange(1, k + 1)
    elif name == "cat_geometric10":
        p = 0.7 ** np.arange(k)
    else:
        p = np.r_[k - 1.0, np.ones(k - 1)]
    levels = np.array([f"{name.split('_')[1]}_{i:02d}" for i in range(k)], dtype=object)
    return levels, p / p.sum()


def _tilted(p, target: float):
    """A distribution at Jensen-Shannon distance ``target`` from ``p``: p mixed with a tilted copy of it."""
    import numpy as np
    from scipy.spatial.distance import jensenshannon

    tilt = p * np.geomspace(0.02, 50.0, len(p))
    tilt /= tilt.sum()
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        if jensenshannon(p, (1 - mid) * p + mid * tilt) < target:
            lo = mid
        else:
            hi = mid
    return (1 - hi) * p + hi * tilt


def generate(rows: int, seed: int, shifted: dict[str, float]):
    """Reference and current frames, column by column (no full-frame temporaries)."""
    import numpy as np
    import pandas as pd

    ref_rng, cur_rng = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    reference, current = {}, {}
    for name in NUMERIC:
        reference[name] = _numeric(ref_rng, name, rows, 0.0, 0.0)
        std = float(np.nanstd(reference[name]))
        current[name] = _numeric(cur_rng, name, rows, shifted.get(name, 0.0), std)
    for name in CATEGORICAL:
        levels, p = _categories(name)
        q = _tilted(p, shifted[name]) if shifted.get(name) else p
        reference[name] = levels[ref_rng.choice(len(p), size=rows, p=p)]
        current[name] = levels[cur_rng.choice(len(q), size=rows, p=q)]
    return pd.DataFrame(reference, copy=False), pd.DataFrame(current, copy=False)
