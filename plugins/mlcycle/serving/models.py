"""The models a server process holds, and how it swaps them without a failed or mixed request.

Each pipeline has a :class:`Slot` with two references: ``champion`` and ``shadow`` (a pending challenger,
:func:`mlcycle.core.governance.pending_challenger`). A :class:`Loaded` is immutable and carries its model
with its name, version and run id. A swap loads the new version completely (in the background thread
of :class:`Swapper`, or in ``POST /reload``) and then rebinds ``slot.champion`` in one assignment;
a request reads ``slot.champion`` once and uses that object to the end, so it is answered by one version,
whatever happens meanwhile. Only :func:`mlcycle.core.governance.servable_champion` is loaded: an ungated
champion is refused and the loaded one keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from mlcycle.core import governance, registry, training
from mlcycle.core.config import PipelineConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """One loaded model version."""

    pipeline: str
    name: str
    version: int
    run_id: str
    model: Any
    columns: list[str]
    loaded_at: float

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "run_id": self.run_id, "columns": self.columns,
                "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.loaded_at))}


def load(config: PipelineConfig, info: dict[str, Any]) -> Loaded:
    """Load a version (:func:`registry.version_info`) completely: the model and its input columns."""
    model = registry.load_model(config.model_name, info["version"])
    columns = [str(c) for c in getattr(model, "feature_names_in_", [])] or training.features(config)
    return Loaded(config.name, config.model_name, info["version"], info["run_id"], model, columns, time.time())


@dataclass
class Slot:
    """What one pipeline's server process holds; ``refresh`` moves it to the registry's state."""

    config: PipelineConfig
    champion: Loaded | None = None
    shadow: Loaded | None = None
    problem: str | None = "the registry has not answered yet (loading)"
    swaps: int = 0
    checked_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    on_swap: Any = None  # called with (slot, old, new) after a champion swap

    def refresh(self) -> bool:
        """Read the alias and the pending challenger; load and swap what changed. True when the champion
        changed. Serialised: a reload and the poller never load the same version twice."""
        with self.lock:
            changed = self._refresh_champion()
            self._refresh_shadow()
            self.checked_at = time.time()
            return changed

    def _refresh_champion(self) -> bool:
        try:
            info = governance.servable_champion(self.config)
        except governance.UngatedChampion as exc:
            self.problem = f"{exc} The loaded version keeps serving."
            log.error("%s: %s", self.config.name, self.problem)
            return False
        if info is None:
            self.problem = f"{self.config.model_name} has no champion yet: train_{self.config.name} makes one"
            return False
        self.problem = None
        old = self.champion
        if old is not None and old.version == info["version"]:
            return False
        new = load(self.config, info)
        self.champion = new  # the swap: one reference, rebound once the new model is whole
        self.swaps += 1
        log.info("%s: champion v%s -> v%s", self.config.name, old.version if old else "-", new.version)
        if self.on_swap:
            self.on_swap(self, old, new)
        return True

    def _refresh_shadow(self) -> None:
        pending = governance.pending_challenger(self.config)
        champion = self.champion.version if self.champion else None
        if pending is None or pending["version"] == champion:
            self.shadow = None
        elif self.shadow is None or self.shadow.version != pending["version"]:
            self.shadow = load(self.config, pending)
            log.info("%s: v%s runs in shadow of the champion", self.config.name, pending["version"])

    def describe(self) -> dict[str, Any]:
        champion, shadow = self.champion, self.shadow
        return {"champion": champion.describe() if champion else None,
                "shadow": shadow.describe() if shadow else None, "problem": self.problem, "swaps": self.swaps,
                "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.checked_at))}


class Swapper(threading.Thread):
    """Polls every slot every ``interval`` seconds, or at once after :meth:`wake`; never dies on an error."""

    def __init__(self, slots: dict[str, Slot], interval: float) -> None:
        super().__init__(name="mlcycle-swapper", daemon=True)
        self.slots, self.interval = slots, interval
        self._wake, self._stop = threading.Event(), threading.Event()

    def run(self) -> None:  # the first load too: the app answers /health at once, /ready once a model is in
        while not self._stop.is_set():
            refresh_all(self.slots)
            self._wake.wait(self.interval)
            self._wake.clear()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()


def refresh_all(slots: dict[str, Slot]) -> dict[str, str]:
    """Refresh every slot; a registry that cannot be reached leaves the loaded models serving."""
    errors = {}
    for name, slot in slots.items():
        try:
            slot.refresh()
        except Exception as exc:  # MLflow down or slow: keep serving what is loaded, try again next time
            errors[name] = f"{type(exc).__name__}: {exc}"
            slot.problem = f"checking the registry failed ({errors[name]}); the loaded version keeps serving"
            log.warning("%s: %s", name, slot.problem)
    return errors
