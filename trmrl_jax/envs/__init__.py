"""Task distributions by name: ``make``, ``register`` and ``registered``.

    from trmrl_jax import envs
    envs.register("my_dist", MyDistribution)   # any TaskDistribution factory
    env = envs.make("my_dist")
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from trmrl_jax.envs.base import SPLITS, Task, TaskDistribution
from trmrl_jax.envs.brax_env import TaskEnv
from trmrl_jax.envs.dynamics import HalfCheetahRandParams
from trmrl_jax.envs.locomotion import (
    AntDirArc,
    AntDirPm1Rad,
    AntFwdBack,
    AntGoal,
    HalfCheetahDir,
    HalfCheetahVel,
)
from trmrl_jax.envs.metaworld import PORTED, ported
from trmrl_jax.envs.point_nav import PointNav
from trmrl_jax.envs.trial import Observation, TrialEnv, TrialState

_REGISTRY: dict[str, Callable[..., TaskDistribution]] = {}


def register(name: str, factory: Callable[..., TaskDistribution]) -> None:
    """Makes ``factory`` available as ``make(name)`` and as ``Config(env=name)``."""
    if not name or not isinstance(name, str):
        raise ValueError(f"env name {name!r} must be a non-empty string")
    _REGISTRY[name] = factory


def registered() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def default_episode_length(name: str) -> int:
    """H of distribution ``name`` as its factory declares it (200 when it declares none)."""
    return int(getattr(_REGISTRY[name], "default_episode_length", 200))


def backends(name: str) -> tuple[str, ...] | None:
    """The ``Config.backend`` values distribution ``name`` runs on (None: it has no physics)."""
    return getattr(_REGISTRY[name], "backends", None)


def training_defaults(name: str) -> dict[str, Any]:
    """The ``Config`` fields distribution ``name`` declares for its runs (``presets.for_env``)."""
    return dict(getattr(_REGISTRY[name], "training_defaults", {}))


def make(name: str, **kwargs: Any) -> TaskDistribution:
    """Builds distribution ``name``; keyword arguments its factory does not take are dropped,
    so ``make(name, backend=...)`` works for pure-JAX and Brax distributions alike."""
    if name not in _REGISTRY:
        raise ValueError(f"env={name!r} is not registered; choose one of {', '.join(registered())}")
    factory = _REGISTRY[name]
    params = inspect.signature(factory).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return factory(**kwargs)


register("point_nav", PointNav)
register("halfcheetah_vel", HalfCheetahVel)
register("halfcheetah_dir", HalfCheetahDir)
register("ant_fwd_back", AntFwdBack)
register("ant_dir_arc", AntDirArc)
register("ant_dir_pm1rad", AntDirPm1Rad)
register("ant_goal", AntGoal)
register("halfcheetah_rand_params", HalfCheetahRandParams)
for _env, _task in PORTED.items():  # Meta-World's reach-v3 -> ml1_reach, and so on.
    register("ml1_" + _env.removesuffix("-v3").replace("-", "_"), _task)
for _name, _benchmark in ported().items():  # ml10, ml45 once their environments are ported.
    register(_name, _benchmark)

__all__ = ["SPLITS", "Task", "TaskDistribution", "TaskEnv", "Observation", "TrialEnv", "TrialState",
           "backends", "default_episode_length", "make", "register", "registered",
           "training_defaults"]
