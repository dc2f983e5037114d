"""A trained run as a policy a program can step: ``config, policy = trmrl_jax.load(workdir)``.

The policy acts with memory over a trial (E episodes of one task) exactly as the meta-test does:
reset it when a new task begins, then feed it one ``Observation`` per step. Its pure form
(``init_carry``, ``act``) can be jitted, vmapped or scanned like any JAX function.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from trmrl_jax.checkpoint import Checkpointer, has_checkpoint
from trmrl_jax.config import Config, ConfigError
from trmrl_jax.envs import Observation, TaskDistribution
from trmrl_jax.learners import Carry, Learner
from trmrl_jax.step import Run, init_state, with_matmul_precision
from trmrl_jax.workdir import read_config


class Policy:
    """A trained agent of one seed. Batched: observations and actions carry a leading [B] axis.

    Stateful use: ``reset(batch)`` at the start of every trial, then ``step(obs) -> action``,
    and ``next_episode(obs)`` between two episodes of the trial. Pure use: ``carry =
    init_carry(batch)``; ``carry, action = act(params, carry, obs)``; ``carry =
    end_episode(params, carry, obs)``. The episode boundary matters to learners that adapt
    between episodes (MAML); for the memory agents it changes nothing.
    """

    def __init__(self, config: Config, env: TaskDistribution, learner: Learner, params: Any):
        # params: one seed's ``learner.acting_params`` (network parameters, observation
        # statistics, ...), no seed axis.
        self.config, self.env, self.learner, self.params = config, env, learner, params
        self._act = jax.jit(with_matmul_precision(self.act, config.matmul_precision))
        self._end_episode = jax.jit(with_matmul_precision(self.end_episode,
                                                          config.matmul_precision))
        self._carry: Carry | None = None

    def init_carry(self, batch: int, keys: jax.Array | None = None) -> Carry:
        """The memory at the start of a trial (empty), for ``batch`` trials. keys: [batch] PRNG
        keys for a learner whose memory draws randomness (PEARL's z; ``rollout.carry_keys`` of
        the meta-test's trial keys gives its draws); None: fixed ones."""
        if keys is None:
            keys = jax.random.split(jax.random.PRNGKey(0), batch)
        return self.learner.initial_carry(batch, keys)

    def act(self, params: Any, carry: Carry, obs: Observation,
            key: jax.Array | None = None) -> tuple[Carry, jax.Array]:
        """obs leaves [B, ...] (raw, as ``TrialEnv.observe`` gives them) -> (carry, action [B, A]
        in [-1, 1]). Without ``key``: the most likely action, as the meta-test acts; with
        ``key``: a sample of the policy, as training acts. Pure: jit, vmap and scan it freely."""
        carry, out = self.learner.act(params, carry, obs)
        action = out.policy.mode() if key is None else out.policy.sample(
            jax.random.split(key, out.mean.shape[0]))
        return carry, jnp.clip(action, -1.0, 1.0)

    def end_episode(self, params: Any, carry: Carry, obs: Observation) -> Carry:
        """The carry after an episode: obs leaves [B, ...] observed after its last step (the
        final state, with the last action and reward as ``prev_action`` and ``prev_reward``)."""
        return self.learner.end_episode(params, carry, obs)

    def reset(self, batch: int = 1, keys: jax.Array | None = None) -> None:
        """Clears the memory: the next ``step`` is the first of a new trial of ``batch`` tasks
        (``keys``: as in ``init_carry``)."""
        self._carry = self.init_carry(batch, keys)

    def step(self, obs: Observation, key: jax.Array | None = None) -> jax.Array:
        """One step of the current trial, remembering it: obs leaves [B, ...] -> action [B, A]."""
        if self._carry is None:
            raise RuntimeError("call policy.reset(batch) before the first step of a trial")
        self._carry, action = self._act(self.params, self._carry, obs, key)
        return action

    def next_episode(self, obs: Observation) -> None:
        """Ends the current episode of the trial (obs as in ``end_episode``); the next ``step``
        begins the next episode of the same task, with the memory kept."""
        if self._carry is None:
            raise RuntimeError("call policy.reset(batch) before the first step of a trial")
        self._carry = self._end_episode(self.params, self._carry, obs)


def load(workdir: str, *, seed: int = 0, step: int | None = None) -> tuple[Config, Policy]:
    """The config of the run in ``workdir`` and its policy for seed index ``seed`` (of
    ``num_seeds``), from the newest checkpoint (or checkpoint ``step``)."""
    if not has_checkpoint(workdir):
        raise ConfigError(f"workdir={workdir!r} holds no trained run (config.json and "
                          "checkpoints/ are written by experiments.train)")
    config = read_config(workdir)
    if not 0 <= seed < config.num_seeds:
        raise ConfigError(f"seed={seed} is outside the run's {config.num_seeds} seed(s)")
    run = Run.create(config.replace(num_devices=1))
    ckpt = Checkpointer(workdir, config.keep_checkpoints)
    try:
        if step is None:
            step = ckpt.latest_step()
        elif step not in ckpt.all_steps():
            raise ConfigError(f"step={step} has no checkpoint in {workdir!r}; choose one of "
                              f"{ckpt.all_steps()}")
        state = ckpt.restore(init_state(run), step)
    finally:
        ckpt.close()
    params = jax.tree.map(lambda x: x[seed], run.learner.acting_params(state))  # No seed axis.
    return config, Policy(config, run.env, run.learner, params)
