"""Meta-learners behind one seam (``base.Learner``), by the agent names of ``Config.agent``.

A new learner is a module (or package) here with a ``Learner`` subclass, its agent name in
``config.AGENTS`` and a line in ``LEARNERS``.
"""

from __future__ import annotations

from typing import Callable

from trmrl_jax.config import AGENTS, Config, ConfigError
from trmrl_jax.envs import TaskDistribution
from trmrl_jax.learners.base import Carry, Learner, State
from trmrl_jax.learners.pearl import PEARL
from trmrl_jax.learners.ppo import PPO

# Config.agent -> the learner that trains it: factory(cfg, env).
LEARNERS: dict[str, Callable[[Config, TaskDistribution], Learner]] = {
    "trmrl": PPO, "rl2": PPO, "mlp": PPO, "oracle": PPO, "pearl": PEARL}


def make_learner(cfg: Config, env: TaskDistribution) -> Learner:
    """The learner that trains ``cfg.agent`` on ``env``."""
    if cfg.agent not in LEARNERS:
        raise ConfigError(f"agent={cfg.agent!r} is not known; choose one of {', '.join(AGENTS)}")
    return LEARNERS[cfg.agent](cfg, env)


__all__ = ["Carry", "LEARNERS", "Learner", "PEARL", "PPO", "State", "make_learner"]
