"""The compiled step around any learner: ``shard_map`` over a 1-D device mesh (axis ``data``)
splits the batch of tasks over devices, ``vmap`` over a leading seed axis runs ``num_seeds``
independent runs side by side, the state is donated, and one compilation serves the whole run.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, TypeVar

import jax
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from trmrl_jax import envs
from trmrl_jax.config import Config, validate
from trmrl_jax.distributed import make_mesh
from trmrl_jax.envs import TaskDistribution
from trmrl_jax.learners import Learner, State, make_learner

F = TypeVar("F", bound=Callable)


def with_matmul_precision(fn: F, precision: str) -> F:
    """``fn`` traced under JAX's ``default_matmul_precision`` (``Config.matmul_precision``):
    the precision is read when a matmul is traced, so it reaches the lowered program.
    ``default`` leaves ``fn`` as it is: JAX's own default (or its
    ``JAX_DEFAULT_MATMUL_PRECISION`` setting) applies."""
    if precision == "default":
        return fn

    def traced(*args: Any, **kwargs: Any) -> Any:
        with jax.default_matmul_precision(precision):
            return fn(*args, **kwargs)

    return traced  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class Run:
    """The pieces of a run that do not change while it trains."""

    cfg: Config
    env: TaskDistribution
    learner: Learner
    mesh: Mesh

    @classmethod
    def create(cls, cfg: Config) -> "Run":
        """The run's distribution is sized for the worlds one update steps per device."""
        mesh = make_mesh(cfg.num_devices)
        validate(cfg, mesh.size)
        env = envs.make(cfg.env, backend=cfg.backend, worlds=worlds_per_call(cfg, mesh.size))
        return cls(cfg=cfg, env=env, learner=make_learner(cfg, env), mesh=mesh)

    @property
    def worlds(self) -> int:
        """The worlds one call of the compiled step steps on one device."""
        return worlds_per_call(self.cfg, self.mesh.size)

    def learner_for(self, worlds: int) -> Learner:
        """The run's learner on a distribution sized for ``worlds`` per call (the meta-test's
        batch): the run's own where the distribution takes any batch (``env.worlds`` None) or
        that one, else one built for it once per run config and size, so repeated meta-tests
        reuse one compilation."""
        if self.env.worlds in (None, worlds):
            return self.learner
        return _sized_learner(self.cfg, worlds)


def worlds_per_call(cfg: Config, devices: int) -> int:
    """Every seed's share of the tasks on one device: ``vmap`` over seeds and tasks hands a
    simulator one batch of this many worlds per step."""
    return cfg.num_seeds * cfg.num_tasks // devices


@functools.lru_cache(maxsize=8)
def _sized_learner(cfg: Config, worlds: int) -> Learner:
    return make_learner(cfg, envs.make(cfg.env, backend=cfg.backend, worlds=worlds))


def init_state(run: Run) -> State:
    """Initial state of every seed (seed, seed + 1, ...), stacked on a leading [num_seeds]
    axis."""
    cfg = run.cfg
    seeds = jnp.arange(cfg.num_seeds) + cfg.seed
    return jax.jit(jax.vmap(lambda s: run.learner.init(jax.random.PRNGKey(s))))(seeds)


def make_train_step(run: Run) -> Callable[[State], tuple[State, dict]]:
    """The compiled step: all seeds, all devices, one update. State (``replicate``d) is donated."""
    update = jax.vmap(run.learner.make_update(run.mesh.size))
    # Outputs are replicated by construction (pmean of gradients and metrics, psum of statistics);
    # check_vma=False spares every scan carry a pcast to "varying".
    sharded = jax.shard_map(update, mesh=run.mesh, in_specs=P(), out_specs=P(), check_vma=False)
    return jax.jit(with_matmul_precision(sharded, run.cfg.matmul_precision), donate_argnums=0)
