"""Weights & Biases logging, as a ``train`` callback: the same tags as the TensorBoard events.

Optional (``pip install -e ".[wandb]"``); ``mode="offline"`` writes the run under
``WORKDIR/wandb/`` with no network (``wandb sync`` uploads it later). Only process 0 logs.
"""

from __future__ import annotations

import os

from trmrl_jax.config import Config, ConfigError
from trmrl_jax.distributed import is_primary
from trmrl_jax.learners import State
from trmrl_jax.runlog import results_scalars, tensorboard_scalars

WANDB_MODES = ("online", "offline", "disabled")


class WandbLogger:
    """Pass it to ``train(config, callbacks=[logger])``, then call ``finish(results)``."""

    def __init__(self, cfg: Config, project: str, mode: str = "online"):
        if mode not in WANDB_MODES:
            raise ConfigError(f"wandb_mode={mode!r} is not allowed; choose one of "
                              f"{', '.join(WANDB_MODES)}")
        try:
            import wandb
        except ImportError as e:
            raise ConfigError("wandb_project is set but wandb is not installed; "
                              "pip install -e \".[wandb]\"") from e
        self.cfg, self.wandb, self.project, self.mode = cfg, wandb, project, mode
        self.run = None

    def _started(self) -> bool:
        """Starts the W&B run on process 0 at the first update: only then is JAX's process
        index known (``train`` joins the other processes first)."""
        if self.run is None and is_primary():
            self.run = self.wandb.init(
                project=self.project, mode=self.mode, dir=self.cfg.workdir,
                name=os.path.basename(os.path.normpath(self.cfg.workdir)),
                config=self.cfg.to_dict())
        return self.run is not None

    def __call__(self, update: int, row: dict, state: State) -> None:
        """Logs the rows ``metrics.jsonl`` gets (every ``log_every`` updates, meta-tests)."""
        del state
        due = (update % self.cfg.log_every == 0 or update == self.cfg.num_updates
               or "eval_test_returns_per_episode" in row)
        if due and self._started():
            self.run.log(tensorboard_scalars(row), step=row["env_steps"])

    def finish(self, results: dict | None = None) -> None:
        """Logs the final meta-test (an ``eval.json`` dict) and the run's figures, and closes
        the run."""
        if not self._started():
            return
        if results is not None:
            images = {f"figures/{name}": self.wandb.Image(path) for name in
                      ("adaptation", "learning_curve")
                      if os.path.exists(path := os.path.join(self.cfg.workdir, f"{name}.png"))}
            self.run.log({**results_scalars(results), **images}, step=results["env_steps"])
        self.run.finish()
