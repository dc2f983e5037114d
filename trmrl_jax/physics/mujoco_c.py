"""Gym's bodies (``physics.gym``) on MuJoCo's C engine, called from inside the compiled step.

Why: it is the reference's own simulator (MuJoCo's C engine in float64), and on a CPU it is
several times faster than MJX, whose float32 JAX program does per step what the C engine does
with sparse, specialised code (BUILD.md, "Physics backends"). ``jax.pure_callback`` hands the
whole batch of worlds to the host in one call per step (``vmap_method="broadcast_all"``), which
steps them in host threads (``physics.host``), each with a borrowed model copy and ``MjData``.

The state is the C engine's float64 integration state (``mj_getState`` with
``mjSTATE_INTEGRATION``), carried through JAX as its raw bits (uint32 pairs), so a trajectory is
MuJoCo's own bit for bit; the body reads a float32 ``CFrame`` the callback returns beside it.
The model a task varies is a pytree of *factors* on the stock masses, inertias, damping and
friction (``base.PARAMETERS``), applied in float64 on the host: factors of one leave the stock
model exactly as loaded. Not differentiable; runs on the host's CPU whatever JAX's device.
"""

from __future__ import annotations

import copy
import threading
from typing import Callable, Mapping

import chex
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from brax.envs.base import State
from flax import struct

from trmrl_jax.physics.base import PARAMETERS
from trmrl_jax.physics.gym import AntBody, GymBody, HalfCheetahBody
from trmrl_jax.physics.host import Slots, Workers, clear_faults, default_threads, faulted

_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION


@struct.dataclass
class CFrame:
    """What the body reads of a world after a step, float32: qpos [nq], qvel [nv], the bodies'
    frame positions xpos [nbody, 3] and external forces cfrc_ext [nbody, 6] (zero unless the
    body's metrics read them)."""

    qpos: jax.Array
    qvel: jax.Array
    xpos: jax.Array
    cfrc_ext: jax.Array


@struct.dataclass
class CState:
    """``State.pipeline_state`` on the C engine: the state bits [2 nstate] uint32 and the frame;
    ``q`` (qpos) is what ``visualize.record_trial`` reads to draw a trial."""

    sim: jax.Array
    frame: CFrame

    @property
    def q(self) -> jax.Array:
        return self.frame.qpos


class CBody(GymBody):
    """A Gym body stepped by MuJoCo's C engine; ``threads``: host threads stepping the worlds
    (default: one per core this process may use). ``model`` is the factors of one (``vary``
    scales them). Its metrics add ``fault``: 1.0 from the first step of the episode on which
    MuJoCo warned of one of ``host.FAULTS`` (it resets the data on a bad acceleration), which
    the distribution ``reports`` so that a run stops there. One lock serialises the callbacks
    of a process's devices: the host's threads step one device's batch at a time."""

    reports = ("fault",)

    def __init__(self, observe_position: bool = False, threads: int | None = None):
        m = self.load(observe_position)
        self.workers = Workers(threads or default_threads())
        self.slots = Slots(self._new_slot)
        self.lock = threading.Lock()  # Devices of one process may call back at once.
        self.nstate = mujoco.mj_stateSize(m, _SPEC)
        self._stock = {"mass": m.body_mass[1:].copy(), "inertia": m.body_inertia[1:].copy(),
                       "damping": m.dof_damping.copy(), "friction": m.geom_friction.copy()}
        self._sizes = (m.nq, m.nv, 3 * m.nbody, 6 * m.nbody)
        self._shapes = (jax.ShapeDtypeStruct((2 * self.nstate,), jnp.uint32),
                        jax.ShapeDtypeStruct((sum(self._sizes),), jnp.float32),
                        jax.ShapeDtypeStruct((), jnp.float32))
        self.model = {name: jnp.ones((size,), jnp.float32)
                      for name, size in self.parameter_sizes.items()}
        frame = jax.eval_shape(self._frame, self._shapes[1])
        self.observation_size = int(jax.eval_shape(self.observe, frame).shape[-1])

    def _new_slot(self) -> tuple[mujoco.MjModel, mujoco.MjData, list[bool]]:
        """A model copy (a world writes its task's parameters into it), its ``MjData``, and
        whether the copy holds other parameters than the stock ones."""
        m = copy.copy(self.mujoco_model)
        return m, mujoco.MjData(m), [False]

    def _frame(self, flat: jax.Array) -> CFrame:
        """[frame size] float32 -> its ``CFrame``."""
        chex.assert_shape(flat, (sum(self._sizes),))
        qpos, qvel, xpos, cfrc = jnp.split(flat, np.cumsum(self._sizes)[:-1])
        return CFrame(qpos=qpos, qvel=qvel, xpos=xpos.reshape(-1, 3),
                      cfrc_ext=cfrc.reshape(-1, 6))

    def _model(self, slot: tuple[mujoco.MjModel, mujoco.MjData, list[bool]],
               factors: dict[str, np.ndarray] | None, i: int) -> mujoco.MjModel:
        """The slot's model with world i's parameters: the stock ones times its ``factors``
        [count, size] each, or the stock ones where ``factors`` is None (a batch of factors of
        one, written only if the copy holds others: the common case costs nothing)."""
        m, _, varied = slot
        if factors is None and not varied[0]:
            return m
        one = {name: (1.0 if factors is None else factors[name][i]) for name in PARAMETERS}
        m.body_mass[1:] = self._stock["mass"] * one["mass"]
        m.body_inertia[1:] = self._stock["inertia"] * np.reshape(one["inertia"], (-1, 1))
        m.dof_damping[:] = self._stock["damping"] * one["damping"]
        m.geom_friction[:] = self._stock["friction"] * np.reshape(one["friction"], (-1, 1))
        varied[0] = factors is not None
        return m

    def _read(self, m: mujoco.MjModel, d: mujoco.MjData, state: np.ndarray,
              frame: np.ndarray) -> None:
        """Writes the world's state [nstate] and frame [frame size]."""
        mujoco.mj_getState(m, d, state, _SPEC)
        if self.contact_forces:
            mujoco.mj_rnePostConstraint(m, d)
        frame[:] = np.concatenate([d.qpos, d.qvel, d.xpos.ravel(),
                                   d.cfrc_ext.ravel() if self.contact_forces
                                   else np.zeros(d.cfrc_ext.size)])

    def _batch(self, world: Callable[[int, np.ndarray, np.ndarray], bool], count: int,
               lead: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Runs ``world(i, state, frame) -> faulted`` for every world; returns (bits
        [*lead, 2 nstate], frames [*lead, frame size], faults [*lead] float32)."""
        states = np.empty((count, self.nstate))
        frames = np.empty((count, sum(self._sizes)), np.float32)
        faults = np.zeros(count, np.float32)

        def run(i: int) -> None:
            faults[i] = world(i, states[i], frames[i])

        self.workers.run(run, count, [self.lock])
        return (states.view(np.uint32).reshape(lead + (-1,)), frames.reshape(lead + (-1,)),
                faults.reshape(lead))

    @staticmethod
    def _flat_factors(factors: Mapping[str, np.ndarray], count: int
                      ) -> dict[str, np.ndarray] | None:
        """The batch's factors [count, size] each (float64), or None where all are one."""
        flat = {name: np.asarray(factors[name], np.float64).reshape(count, -1)
                for name in PARAMETERS}
        return None if all(np.all(f == 1.0) for f in flat.values()) else flat

    def _host_reset(self, qpos: np.ndarray, qvel: np.ndarray, factors: Mapping[str, np.ndarray]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """qpos [..., nq], qvel [..., nv] (gym 0.17's reset, float32), factors -> (bits,
        frames, faults): ``mj_resetData``, the state set, a forward pass (gym's
        ``set_state``)."""
        lead = qpos.shape[:-1]
        count = int(np.prod(lead))
        qpos, qvel = (np.asarray(x, np.float64).reshape(count, -1) for x in (qpos, qvel))
        factors = self._flat_factors(factors, count)

        def world(i: int, state: np.ndarray, frame: np.ndarray) -> bool:
            with self.slots.take() as slot:
                m, d = self._model(slot, factors, i), slot[1]
                mujoco.mj_resetData(m, d)
                d.qpos[:], d.qvel[:] = qpos[i], qvel[i]
                mujoco.mj_forward(m, d)
                self._read(m, d, state, frame)
                return faulted(d)

        return self._batch(world, count, lead)

    def _host_step(self, bits: np.ndarray, action: np.ndarray,
                   factors: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """bits [..., 2 nstate], action [..., nu] float32, factors -> (bits, frames, faults):
        gym's ``do_simulation`` (ctrl = action, ``frame_skip`` ``mj_step``s)."""
        lead = bits.shape[:-1]
        count = int(np.prod(lead))
        old = np.ascontiguousarray(bits).reshape(count, 2 * self.nstate).view(np.float64)
        actions = np.asarray(action).reshape(count, -1)
        factors = self._flat_factors(factors, count)

        def world(i: int, state: np.ndarray, frame: np.ndarray) -> bool:
            with self.slots.take() as slot:
                m, d = self._model(slot, factors, i), slot[1]
                mujoco.mj_setState(m, d, old[i], _SPEC)
                clear_faults(d)
                d.ctrl[:] = actions[i]
                mujoco.mj_step(m, d, self.frame_skip)
                self._read(m, d, state, frame)
                return faulted(d)

        return self._batch(world, count, lead)

    def reset(self, key: jax.Array, model: Mapping[str, jax.Array]) -> State:
        qpos, qvel = self.reset_noise(key)
        bits, flat, fault = jax.pure_callback(self._host_reset, self._shapes, qpos, qvel,
                                              dict(model), vmap_method="broadcast_all")
        frame = self._frame(flat)
        zero = jnp.zeros(())
        return State(pipeline_state=CState(bits, frame), obs=self.observe(frame), reward=zero,
                     done=zero, metrics={**self.metrics(frame, frame), "fault": fault})

    def step(self, state: State, action: jax.Array, model: Mapping[str, jax.Array]) -> State:
        chex.assert_shape(action, (self.action_size,))
        bits, flat, fault = jax.pure_callback(
            self._host_step, self._shapes, state.pipeline_state.sim, action.astype(jnp.float32),
            dict(model), vmap_method="broadcast_all")
        frame = self._frame(flat)
        return state.replace(
            pipeline_state=CState(bits, frame), obs=self.observe(frame), reward=jnp.zeros(()),
            metrics={**self.metrics(state.pipeline_state.frame, frame),
                     "fault": jnp.maximum(state.metrics["fault"], fault)})

    def vary(self, model: Mapping[str, jax.Array],
             factors: Mapping[str, jax.Array]) -> dict[str, jax.Array]:
        """The factors multiplied; the host scales the stock model by them in float64. As in
        MuJoCo without ``mj_setConst``, quantities compiled from them keep their stock values."""
        return {name: model[name] * factors[name] for name in PARAMETERS}


class HalfCheetah(HalfCheetahBody, CBody):
    """Gym's HalfCheetah on the C engine."""


class Ant(AntBody, CBody):
    """Gym's Ant (Euler, elliptic cone) on the C engine; ``cfrc_ext`` from
    ``mj_rnePostConstraint`` after each step, as the reference's code reads it."""


BODIES = {"halfcheetah": HalfCheetah, "ant": Ant}
