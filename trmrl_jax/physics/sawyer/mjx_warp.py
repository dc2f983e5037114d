"""A Sawyer scene on MJX's Warp implementation (MuJoCo-Warp behind ``mujoco.mjx``).

Why Warp and not MJX's JAX implementation: ``mjx.put_model(m, impl="jax")`` refuses most
Meta-World scenes (cylinder-box collisions are not implemented); ``impl="warp"`` takes them all,
on CPUs and GPUs, under jit, vmap and scan.

Batching: ``mjx.make_data`` allocates one contact buffer of ``naconmax`` contacts for the whole
batch of worlds a vmap steps (Warp's fields without a batch axis stay shared), and ``njmax``
constraint rows per world. A step that finds more drops what does not fit; ``SawyerState.fault``
then says so (Warp's ``overflow`` bits, or the counts past the sizes).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
from mujoco import mjx

from trmrl_jax.physics.sawyer.scene import (
    ACTION_SCALE,
    FRAME_SKIP,
    MOCAP_QUAT,
    Frame,
    Sawyer,
    SawyerState,
    Scene,
)

# Contacts per world the contact buffer leaves room for (reach-v3 uses 4), and constraint rows
# per world (reach-v3 uses 23). Warp's kernels run over the whole buffer whatever it holds, so
# a buffer 16x too large costs 4.5x the time at 64 worlds on a CPU (BUILD.md, "Meta-World").
NACON_PER_WORLD = 16
NJMAX = 128


class Warp(Sawyer):
    """MJX-Warp; ``model`` is the ``mjx.Model``. ``worlds``: the most worlds one vmapped call
    steps (all vmaps together), which sizes the shared contact buffer (``naconmax``)."""

    def __init__(self, scene: Scene, worlds: int, njmax: int = NJMAX):
        super().__init__(scene)
        m, s = self.mujoco_model, self.settled
        self.model = mjx.put_model(m, impl="warp")
        self.naconmax, self.njmax, self.worlds = NACON_PER_WORLD * worlds, njmax, worlds
        self._settled = {name: np.asarray(getattr(s, name), np.float32) for name in (
            "qpos", "qvel", "ctrl", "mocap_pos", "mocap_quat", "qacc_warmstart", "time")}
        self._mocap_quat = np.asarray(MOCAP_QUAT[None], np.float32)
        self._mocap_box = (np.asarray(scene.mocap_low, np.float32),
                           np.asarray(scene.mocap_high, np.float32))

    def _frame(self, d: mjx.Data) -> Frame:
        return Frame(qpos=d.qpos, qvel=d.qvel, mocap_pos=d.mocap_pos[0],
                     xpos=d.xpos[self.body_ids], site_xpos=d.site_xpos[self.site_ids],
                     geom_xmat=d.geom_xmat[self.geom_ids])

    def _fault(self, d: mjx.Data) -> jax.Array:
        """int32 []: 1 where Warp overflowed a buffer or the state is not finite."""
        overflow = ((d._impl.overflow != 0) | (d._impl.nacon[0] > self.naconmax)
                    | (d._impl.nefc > self.njmax))
        finite = jnp.all(jnp.isfinite(d.qpos)) & jnp.all(jnp.isfinite(d.qvel))
        return (jnp.any(overflow) | ~finite).astype(jnp.int32)

    def start(self, placed: jax.Array, model: mjx.Model) -> SawyerState:
        s, scene = self._settled, self.scene
        d = mjx.make_data(self.mujoco_model, impl="warp", naconmax=self.naconmax,
                          njmax=self.njmax)
        d = d.replace(
            qpos=jnp.asarray(s["qpos"]).at[np.array(scene.placed_qpos)].set(placed),
            qvel=jnp.asarray(s["qvel"]).at[np.array(scene.zeroed_qvel)].set(0.0),
            ctrl=s["ctrl"], mocap_pos=s["mocap_pos"], mocap_quat=s["mocap_quat"],
            qacc_warmstart=s["qacc_warmstart"], time=s["time"])
        d = mjx.forward(model, d)  # Meta-World's set_state.
        return SawyerState(sim=d, frame=self._frame(d), fault=self._fault(d))

    def step(self, state: SawyerState, action: jax.Array, model: mjx.Model) -> SawyerState:
        chex.assert_shape(action, (4,))
        d = state.sim
        action = jnp.clip(action, -1.0, 1.0)
        mocap = jnp.clip(d.mocap_pos[0] + action[:3] * ACTION_SCALE, *self._mocap_box)
        d = d.replace(mocap_pos=mocap[None], mocap_quat=self._mocap_quat,
                      ctrl=jnp.stack([action[3], -action[3]]))
        d = jax.lax.fori_loop(0, FRAME_SKIP, lambda _, d: mjx.step(model, d), d)
        d = mjx.forward(model, d)  # Meta-World's forward pass after the physics steps.
        return SawyerState(sim=d, frame=self._frame(d),
                           fault=jnp.maximum(state.fault, self._fault(d)))
