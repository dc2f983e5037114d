"""The learner seam: what every meta-learner provides, so the compiled step, the host loop, the
meta-test, ``api.load`` and the pictures work for any of them.

A learner owns its train state (a pytree with an ``update`` counter), one update for one seed on
one device's share of the batch of tasks (``make_update``, called inside ``shard_map``), and how
it acts in a trial: a *policy with a carry*. The carry is whatever the learner remembers within
a trial (a transformer's working memories, a recurrent state, a posterior over the task, or
parameters adapted between episodes); ``act`` advances it by one step and ``end_episode`` at each
episode boundary, so the meta-test never needs to know which learner it runs.
"""

from __future__ import annotations

import abc
from typing import Any, Callable

import jax

from trmrl_jax.config import Config
from trmrl_jax.envs import Observation, TaskDistribution
from trmrl_jax.networks.heads import PolicyOutput

Carry = Any
State = Any  # A learner's train state: a flax struct with an int32 ``update`` field.


class Learner(abc.ABC):
    """A meta-learner for one ``Config`` on one task distribution.

    Subclasses implement ``init``, ``make_update``, ``acting_params``, ``initial_carry`` and
    ``act``; ``end_episode`` defaults to keeping the carry as it is.
    """

    def __init__(self, cfg: Config, env: TaskDistribution):
        self.cfg, self.env = cfg, env

    @abc.abstractmethod
    def init(self, key: jax.Array) -> State:
        """The initial train state of one seed (no seed axis)."""

    @abc.abstractmethod
    def make_update(self, num_devices: int) -> Callable[[State], tuple[State, dict]]:
        """One update of one seed, written for one device of the ``distributed.AXIS`` mesh axis
        (inside ``shard_map``): ``state -> (state, metrics)``. Metrics are scalars (or small
        per-episode vectors) averaged over devices, with ``finite`` (int32, 0 when the loss or
        the parameters stopped being finite) and ``train_return``."""

    @abc.abstractmethod
    def acting_params(self, state: State) -> Any:
        """What ``act`` needs from a train state (leaves keep any leading seed axis)."""

    @abc.abstractmethod
    def initial_carry(self, batch: int, key: jax.Array) -> Carry:
        """The carry at the start of a trial (empty memory), for ``batch`` trials; key: [batch]
        PRNG keys, one per trial, for a carry that draws randomness (PEARL's z)."""

    @abc.abstractmethod
    def act(self, params: Any, carry: Carry, obs: Observation
            ) -> tuple[Carry, PolicyOutput]:
        """One step of ``batch`` trials: obs leaves [B, ...] raw, as ``TrialEnv.observe`` gives
        them -> (carry, the policy's outputs [B, ...])."""

    def end_episode(self, params: Any, carry: Carry) -> Carry:
        """The carry after an episode ends and before the next of the same trial begins."""
        del params
        return carry

    def act_recorded(self, params: Any, carry: Carry, obs: Observation
                     ) -> tuple[Carry, PolicyOutput, dict]:
        """``act`` and what its network recorded on the way, by layer (for TrMRL each layer's
        attention weights, ``{"layers_i": {"attention": ...}}``); the pictures draw them."""
        return (*self.act(params, carry, obs), {})
