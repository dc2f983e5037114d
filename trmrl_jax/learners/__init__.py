"""Meta-learners behind one seam (``base.Learner``), by the agent names of ``Config.agent``.

A new learner is a module (or package) here with a ``Learner`` subclass, its agent name in
``config.AGENTS`` and a line in ``LEARNERS``.
"""

from __future__ import annotations

from typing import Callable

from trmrl_jax.config import AGENTS, Config, ConfigError
from trmrl_jax.envs import TaskDistribution
from trmrl_jax.learners.base import Carry, Learner, State
from trmrl_jax.learners.maml import MAML
from trmrl_jax.learners.pearl import PEARL
from trmrl_jax.learners.ppo import PPO

# Config.agent -> the learner that trains it: factory(cfg, env).
LEARNERS: dict[str, Callable[[Config, TaskDistribution], Learner]] = {
    "trmrl": PPO, "rl2": PPO, "mlp": PPO, "oracle": PPO, "maml": MAML, "pearl": PEARL}


# Agents whose width is ``Config.mlp_hidden``, and those of them that ``compare`` widens to
# TrMRL's parameter count. MAML keeps the reference's width: it adapts a copy of its parameters
# per task, so a 100k-parameter MAML carries 100k numbers per trial through every step.
MEMORYLESS = ("mlp", "oracle", "maml")
PARAM_MATCHED = ("mlp", "oracle")


def make_learner(cfg: Config, env: TaskDistribution) -> Learner:
    """The learner that trains ``cfg.agent`` on ``env``."""
    if cfg.agent not in LEARNERS:
        raise ConfigError(f"agent={cfg.agent!r} is not known; choose one of {', '.join(AGENTS)}")
    return LEARNERS[cfg.agent](cfg, env)


def matched_mlp_hidden(cfg: Config, env: TaskDistribution) -> int:
    """The ``mlp_hidden`` that gives ``cfg.agent`` (one of ``MEMORYLESS``) the parameter count
    nearest TrMRL's under the same config, so a comparison does not favour the bigger network."""
    target = make_learner(cfg.replace(agent="trmrl"), env).num_params()

    def count(width: int) -> int:
        return make_learner(cfg.replace(mlp_hidden=width), env).num_params()

    low, high = 1, 1
    while count(high) < target:  # Counts grow with the width: bracket, then bisect.
        low, high = high, 2 * high
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if count(mid) < target else (low, mid)
    return min((low, high), key=lambda w: abs(count(w) - target))


__all__ = ["Carry", "LEARNERS", "Learner", "MAML", "MEMORYLESS", "PARAM_MATCHED", "PEARL", "PPO",
           "State", "make_learner", "matched_mlp_hidden"]
