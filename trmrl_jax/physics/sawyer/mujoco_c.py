"""A Sawyer scene on MuJoCo's C engine, called from inside the compiled step.

Why: on a CPU, MJX-Warp pays ~13 ms of kernel launches per physics step whatever the batch, and
one C ``mj_step`` of a Sawyer scene takes ~20 us, so the C engine over a batch of worlds is far
faster there (BUILD.md, "Meta-World"). ``jax.pure_callback`` hands the whole batch of worlds to
the host (``vmap_method="broadcast_all"``: one call per batch, leading axes flattened), which
steps them in ``threads`` threads. A world is stepped with a *slot*: an ``MjData`` and, for a
scene that places bodies, a copy of the model (the task's placed bodies are written into it
before the world is stepped). Slots are pooled and made when every one is in use, so a scene
holds as many as threads step it at once, not one per thread: a mixture of 50 scenes whose
worlds are stepped in scene order needs about one each (a model copy is ~19 MB, meshes).

The state stays the C engine's float64 state exactly: ``mj_getState`` with
``mjSTATE_INTEGRATION`` (time, qpos, qvel, controls, mocap, solver warm start, ...), carried
through JAX as its raw bits (uint32 pairs), so float32 JAX never rounds it and a trajectory is
MuJoCo's own, bit for bit. Tasks read a float32 ``Frame`` the callback returns beside it.
"""

from __future__ import annotations

import copy
import threading
from typing import Any, Sequence

import chex
import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from trmrl_jax.physics.host import Slots, Workers, clear_faults, default_threads, faulted
from trmrl_jax.physics.sawyer.scene import (
    FRAME_SKIP,
    Frame,
    Sawyer,
    SawyerState,
    Scene,
    apply_action,
    settle,
    touching,
)

_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION


def unflatten(flat: jax.Array, sizes: Sequence[int]) -> Frame:
    """A flat frame [sum(sizes)] -> its ``Frame``; ``sizes``: the numbers of qpos, qvel,
    mocap_pos, xpos, site_xpos, geom_xpos, geom_xmat and touching entries
    (``Native.frame_sizes``)."""
    chex.assert_shape(flat, (sum(sizes),))
    qpos, qvel, mocap, xpos, site, gpos, gmat, touch = jnp.split(flat, np.cumsum(sizes)[:-1])
    return Frame(qpos=qpos, qvel=qvel, mocap_pos=mocap, xpos=xpos.reshape(-1, 3),
                 site_xpos=site.reshape(-1, 3), geom_xpos=gpos.reshape(-1, 3),
                 geom_xmat=gmat.reshape(-1, 3, 3), touching=touch)


class Native(Sawyer):
    """MuJoCo's C engine through ``jax.pure_callback``; its model stays on the host (``model``
    is None). Not differentiable, and runs on the host's CPU whatever JAX's device. ``threads``:
    host threads stepping the worlds (default: one per core). ``start_world``/``step_world``
    compute one world on the host (what ``mixture.NativeMixture`` calls per world too)."""

    model = None

    def __init__(self, scene: Scene, threads: int | None = None):
        super().__init__(scene)
        m = self.mujoco_model
        self.workers = Workers(threads or default_threads())
        self.slots = Slots(self._new_slot)
        self.lock = threading.Lock()
        self.nstate = mujoco.mj_stateSize(m, _SPEC)
        self._settled_state = np.empty(self.nstate)
        mujoco.mj_getState(m, self.settled, self._settled_state, _SPEC)
        self.frame_sizes = (m.nq, m.nv, 3, 3 * len(self.body_ids), 3 * len(self.site_ids),
                            3 * len(self.geom_ids), 9 * len(self.geom_ids),
                            len(self.touch_ids))
        self._shapes = (jax.ShapeDtypeStruct((2 * self.nstate,), jnp.uint32),
                        jax.ShapeDtypeStruct((sum(self.frame_sizes),), jnp.float32))

    def _new_slot(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        """A model and its ``MjData``; the model is shared where the scene places no bodies
        (stepping only reads it)."""
        m = copy.copy(self.mujoco_model) if len(self.placed_body_ids) else self.mujoco_model
        return m, mujoco.MjData(m)

    def _read(self, d: mujoco.MjData) -> np.ndarray:
        """[frame size] what ``frame`` unflattens."""
        return np.concatenate([d.qpos, d.qvel, d.mocap_pos[0], d.xpos[self.body_ids].ravel(),
                               d.site_xpos[self.site_ids].ravel(),
                               d.geom_xpos[self.geom_ids].ravel(),
                               d.geom_xmat[self.geom_ids].ravel(),
                               touching(d, self.pad_ids, self.touch_ids)])

    def frame(self, flat: jax.Array) -> Frame:
        """[frame size] -> the ``Frame`` it flattens."""
        return unflatten(flat, self.frame_sizes)

    def start_world(self, placed: np.ndarray, bodies: np.ndarray, state: np.ndarray,
                    frame: np.ndarray) -> np.ndarray:
        """One world's ``start`` (in any thread): placed [k] float64 (the scene's
        ``placed_offsets`` added here), bodies [len(placed_bodies), 3] where the task puts them
        (``Sawyer.body_pos`` adds the scene's offsets); writes state [nstate] and frame [frame
        size]. Returns its init_tcp [3] (float64): the fingertips' centre in the frame the
        hand's reset left (this episode's, where it settles per episode)."""
        scene = self.scene
        with self.slots.take() as (m, d):
            m.body_pos[self.placed_body_ids] = self.body_pos(bodies)
            if scene.settle_placed or not scene.reset_forward:
                settle(scene, m, d)
                init_tcp = d.site_xpos[self.site_ids[:2]].mean(0)
            else:
                mujoco.mj_setState(m, d, self._settled_state, _SPEC)
                init_tcp = self.settled.site_xpos[self.site_ids[:2]].mean(0)
            if scene.reset_steps:
                mujoco.mj_step(m, d, scene.reset_steps)
            d.qpos[list(scene.placed_qpos)] = self.placements(placed)
            d.qvel[list(scene.zeroed_qvel)] = 0.0
            if scene.reset_forward:
                mujoco.mj_forward(m, d)
            mujoco.mj_getState(m, d, state, _SPEC)
            frame[:] = self._read(d)
            return init_tcp

    def step_world(self, state: np.ndarray, bodies: np.ndarray, action: np.ndarray,
                   new: np.ndarray, frame: np.ndarray) -> bool:
        """One world's ``step`` (in any thread) from state [nstate] (float64) with its bodies
        [len(placed_bodies), 3] under action [4] (float32, as Meta-World's); writes new
        [nstate] and frame [frame size]. Returns whether MuJoCo warned of one of ``host.FAULTS``."""
        with self.slots.take() as (m, d):
            m.body_pos[self.placed_body_ids] = self.body_pos(bodies)
            mujoco.mj_setState(m, d, state, _SPEC)
            clear_faults(d)
            apply_action(self.scene, d, action)
            mujoco.mj_step(m, d, FRAME_SKIP)
            mujoco.mj_forward(m, d)
            mujoco.mj_getState(m, d, new, _SPEC)
            frame[:] = self._read(d)
            return faulted(d)

    def _host_start(self, placed: np.ndarray, bodies: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """placed [..., k], bodies [..., len(placed_bodies), 3] -> (state bits
        [..., 2 nstate], frames [..., frame size], init_tcps [..., 3] float32)."""
        lead = placed.shape[:-1]
        count = int(np.prod(lead))
        placed = np.asarray(placed, np.float64).reshape(count, placed.shape[-1])
        bodies = np.asarray(bodies, np.float64).reshape(count, len(self.placed_body_ids), 3)
        states = np.empty((len(placed), self.nstate))
        frames = np.empty((len(placed), sum(self.frame_sizes)), np.float32)
        tcps = np.empty((len(placed), 3), np.float32)

        def world(i: int) -> None:
            tcps[i] = self.start_world(placed[i], bodies[i], states[i], frames[i])

        self.workers.run(world, len(placed), [self.lock])
        return (states.view(np.uint32).reshape(lead + (-1,)), frames.reshape(lead + (-1,)),
                tcps.reshape(lead + (3,)))

    def _host_step(self, bits: np.ndarray, bodies: np.ndarray, action: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """bits [..., 2 nstate], bodies [..., len(placed_bodies), 3], action [..., 4] -> (bits,
        frames [..., frame size], fault [...] int32: 1 where MuJoCo warned of one of
        ``host.FAULTS``)."""
        lead = bits.shape[:-1]
        states = np.ascontiguousarray(bits).reshape(-1, 2 * self.nstate).view(np.float64)
        bodies = np.asarray(bodies, np.float64).reshape(len(states), len(self.placed_body_ids), 3)
        actions = np.asarray(action).reshape(-1, action.shape[-1])
        new = np.empty_like(states)
        frames = np.empty((len(states), sum(self.frame_sizes)), np.float32)
        faults = np.zeros(len(states), np.int32)

        def world(i: int) -> None:
            faults[i] = self.step_world(states[i], bodies[i], actions[i], new[i], frames[i])

        self.workers.run(world, len(states), [self.lock])
        return (new.view(np.uint32).reshape(lead + (-1,)), frames.reshape(lead + (-1,)),
                faults.reshape(lead))

    def start(self, placed: jax.Array, bodies: jax.Array, model: Any) -> SawyerState:
        del model
        chex.assert_shape(bodies, (len(self.placed_body_ids), 3))
        bodies = bodies.astype(jnp.float32)
        bits, flat, init_tcp = jax.pure_callback(
            self._host_start, self._shapes + (jax.ShapeDtypeStruct((3,), jnp.float32),),
            placed.astype(jnp.float32), bodies, vmap_method="broadcast_all")
        return SawyerState(sim=bits, frame=self.frame(flat), fault=jnp.zeros((), jnp.int32),
                           bodies=bodies, init_tcp=init_tcp)

    def step(self, state: SawyerState, action: jax.Array, model: Any) -> SawyerState:
        del model
        chex.assert_shape(action, (4,))
        bits, flat, fault = jax.pure_callback(
            self._host_step, self._shapes + (jax.ShapeDtypeStruct((), jnp.int32),),
            state.sim, state.bodies, action.astype(jnp.float32), vmap_method="broadcast_all")
        return state.replace(sim=bits, frame=self.frame(flat),
                             fault=jnp.maximum(state.fault, fault))
