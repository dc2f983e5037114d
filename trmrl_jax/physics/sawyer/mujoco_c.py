"""A Sawyer scene on MuJoCo's C engine, called from inside the compiled step.

Why: on a CPU, MJX-Warp pays ~13 ms of kernel launches per physics step whatever the batch, and
one C ``mj_step`` of a Sawyer scene takes ~20 us, so the C engine over a batch of worlds is far
faster there (BUILD.md, "Meta-World"). ``jax.pure_callback`` hands the whole batch of worlds to
the host (``vmap_method="broadcast_all"``: one call per batch, leading axes flattened), which
steps them in ``threads`` threads, one ``MjData`` and one copy of the model each (a task's
placed bodies are written into the thread's model before each of its worlds is stepped).

The state stays the C engine's float64 state exactly: ``mj_getState`` with
``mjSTATE_INTEGRATION`` (time, qpos, qvel, controls, mocap, solver warm start, ...), carried
through JAX as its raw bits (uint32 pairs), so float32 JAX never rounds it and a trajectory is
MuJoCo's own, bit for bit. Tasks read a float32 ``Frame`` the callback returns beside it.
"""

from __future__ import annotations

import concurrent.futures
import copy
import os
import threading
from typing import Any, Callable

import chex
import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from trmrl_jax.physics.sawyer.scene import (
    FAULTS,
    FRAME_SKIP,
    Frame,
    Sawyer,
    SawyerState,
    Scene,
    apply_action,
    settle,
)

_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION


class Native(Sawyer):
    """MuJoCo's C engine through ``jax.pure_callback``; its model stays on the host (``model``
    is None). Not differentiable, and runs on the host's CPU whatever JAX's device. ``threads``:
    host threads stepping the worlds (default: one per core)."""

    model = None

    def __init__(self, scene: Scene, threads: int | None = None):
        super().__init__(scene)
        m = self.mujoco_model
        threads = threads or os.cpu_count() or 1
        self._models = [copy.copy(m) for _ in range(threads)]
        self._datas = [mujoco.MjData(m) for _ in range(threads)]
        self._pool = concurrent.futures.ThreadPoolExecutor(threads) if threads > 1 else None
        self._lock = threading.Lock()
        self._nstate = mujoco.mj_stateSize(m, _SPEC)
        self._settled_state = np.empty(self._nstate)
        mujoco.mj_getState(m, self.settled, self._settled_state, _SPEC)
        self._sizes = [m.nq, m.nv, 3, 3 * len(self.body_ids), 3 * len(self.site_ids),
                       3 * len(self.geom_ids), 9 * len(self.geom_ids)]
        self._shapes = (jax.ShapeDtypeStruct((2 * self._nstate,), jnp.uint32),
                        jax.ShapeDtypeStruct((sum(self._sizes),), jnp.float32))

    def _read(self, d: mujoco.MjData) -> np.ndarray:
        """[frame size] what ``_frame`` unflattens."""
        return np.concatenate([d.qpos, d.qvel, d.mocap_pos[0], d.xpos[self.body_ids].ravel(),
                               d.site_xpos[self.site_ids].ravel(),
                               d.geom_xpos[self.geom_ids].ravel(),
                               d.geom_xmat[self.geom_ids].ravel()])

    def _frame(self, flat: jax.Array) -> Frame:
        chex.assert_shape(flat, (sum(self._sizes),))
        qpos, qvel, mocap, xpos, site, gpos, gmat = jnp.split(flat, np.cumsum(self._sizes)[:-1])
        return Frame(qpos=qpos, qvel=qvel, mocap_pos=mocap, xpos=xpos.reshape(-1, 3),
                     site_xpos=site.reshape(-1, 3), geom_xpos=gpos.reshape(-1, 3),
                     geom_xmat=gmat.reshape(-1, 3, 3))

    def _over_worlds(self, world: Callable[[mujoco.MjModel, mujoco.MjData, int], None],
                     count: int, bodies: np.ndarray) -> None:
        """Calls ``world(m, d, i)`` for i < ``count``, world i's placed bodies (``bodies``
        [..., k, 3], ``count`` worlds in all) written into ``m`` first; the worlds split into
        contiguous chunks, one per thread, model and ``MjData`` (MuJoCo releases the GIL while
        it computes). One call at a time: devices of one process may call back at once, and
        the models and ``MjData``s are shared."""
        bodies = np.asarray(bodies, np.float64).reshape(count, len(self.placed_body_ids), 3)
        chunks = np.array_split(np.arange(count), len(self._datas))

        def run(m: mujoco.MjModel, d: mujoco.MjData, chunk: np.ndarray) -> None:
            for i in chunk:
                m.body_pos[self.placed_body_ids] = bodies[i]
                world(m, d, i)

        with self._lock:
            if self._pool is None:
                run(self._models[0], self._datas[0], chunks[0])
            else:
                list(self._pool.map(run, self._models, self._datas, chunks))

    def _host_start(self, placed: np.ndarray, bodies: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """placed [..., k], bodies [..., len(placed_bodies), 3] -> (state bits
        [..., 2 nstate], frames [..., frame size])."""
        lead = placed.shape[:-1]
        placed = np.asarray(placed, np.float64).reshape(int(np.prod(lead)), placed.shape[-1])
        states = np.empty((len(placed), self._nstate))
        frames = np.empty((len(placed), sum(self._sizes)), np.float32)
        scene = self.scene
        qpos, qvel = list(scene.placed_qpos), list(scene.zeroed_qvel)

        def world(m: mujoco.MjModel, d: mujoco.MjData, i: int) -> None:
            if scene.settle_placed or not scene.reset_forward:
                settle(scene, m, d)
            else:
                mujoco.mj_setState(m, d, self._settled_state, _SPEC)
            d.qpos[qpos], d.qvel[qvel] = placed[i], 0.0
            if scene.reset_forward:
                mujoco.mj_forward(m, d)
            mujoco.mj_getState(m, d, states[i], _SPEC)
            frames[i] = self._read(d)

        self._over_worlds(world, len(placed), bodies)
        return (states.view(np.uint32).reshape(lead + (-1,)),
                frames.reshape(lead + (-1,)))

    def _host_step(self, bits: np.ndarray, bodies: np.ndarray, action: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """bits [..., 2 nstate], bodies [..., len(placed_bodies), 3], action [..., 4] -> (bits,
        frames [..., frame size], fault [...] int32: 1 where MuJoCo warned of one of
        ``FAULTS``)."""
        lead = bits.shape[:-1]
        states = np.ascontiguousarray(bits).reshape(-1, 2 * self._nstate).view(np.float64)
        actions = np.asarray(action).reshape(-1, action.shape[-1])  # float32, as Meta-World's.
        new = np.empty_like(states)
        frames = np.empty((len(states), sum(self._sizes)), np.float32)
        faults = np.zeros(len(states), np.int32)

        def world(m: mujoco.MjModel, d: mujoco.MjData, i: int) -> None:
            mujoco.mj_setState(m, d, states[i], _SPEC)
            for w in FAULTS:
                d.warning[w].number = 0
            apply_action(self.scene, d, actions[i])
            mujoco.mj_step(m, d, FRAME_SKIP)
            mujoco.mj_forward(m, d)
            mujoco.mj_getState(m, d, new[i], _SPEC)
            frames[i] = self._read(d)
            faults[i] = any(d.warning[w].number > 0 for w in FAULTS)

        self._over_worlds(world, len(states), bodies)
        return (new.view(np.uint32).reshape(lead + (-1,)), frames.reshape(lead + (-1,)),
                faults.reshape(lead))

    def start(self, placed: jax.Array, bodies: jax.Array, model: Any) -> SawyerState:
        del model
        chex.assert_shape(bodies, (len(self.placed_body_ids), 3))
        bodies = bodies.astype(jnp.float32)
        bits, flat = jax.pure_callback(self._host_start, self._shapes,
                                       placed.astype(jnp.float32), bodies,
                                       vmap_method="broadcast_all")
        return SawyerState(sim=bits, frame=self._frame(flat), fault=jnp.zeros((), jnp.int32),
                           bodies=bodies)

    def step(self, state: SawyerState, action: jax.Array, model: Any) -> SawyerState:
        del model
        chex.assert_shape(action, (4,))
        bits, flat, fault = jax.pure_callback(
            self._host_step, self._shapes + (jax.ShapeDtypeStruct((), jnp.int32),),
            state.sim, state.bodies, action.astype(jnp.float32), vmap_method="broadcast_all")
        return state.replace(sim=bits, frame=self._frame(flat),
                             fault=jnp.maximum(state.fault, fault))
