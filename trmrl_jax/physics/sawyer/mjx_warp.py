"""A Sawyer scene on MJX's Warp implementation (MuJoCo-Warp behind ``mujoco.mjx``).

Why Warp and not MJX's JAX implementation: ``mjx.put_model(m, impl="jax")`` refuses most
Meta-World scenes (cylinder-box collisions are not implemented); ``impl="warp"`` takes them all,
on CPUs and GPUs, under jit, vmap and scan.

Batching: ``mjx.make_data`` allocates one contact buffer of ``naconmax`` contacts for the whole
batch of worlds a vmap steps (Warp's fields without a batch axis stay shared), and ``njmax``
constraint rows per world. A step that finds more drops what does not fit; ``SawyerState.fault``
then says so (Warp's ``overflow`` bits, or the counts past the sizes).

Placed bodies (``Scene.placed_bodies``): a per-world ``body_pos`` under vmap is a batched model
field, which MuJoCo-Warp reads per world, and its kinematics place the bodies and everything
jointed below them. Geoms of bodies welded to the world it treats as static, though: their poses
are computed once, in ``make_data``, from the host model, and never again
(``mujoco_warp/_src/smooth.py``, ``_geom_local_to_global``). So ``start`` moves those of the
placed bodies' subtrees (a door's frame, a drawer's case) by their body's shift itself; left
where the host model has them, they cut through the parts that do move (the drawer's case
reported 2.5-3 cm into the drawer where MuJoCo measures a 2 mm gap, and pushed it out past its
slide's range). Every world starts from the one settled state whatever ``Scene.settle_placed``
says (its ``init_tcp`` the settled one): what a placement changes there (about 1e-15 in the
drawer's slide) lies far below Warp's own float32 departures from the C engine. Nor does it
keep a reset's stale kinematics (``Scene.reset_forward`` False): its first frame is the settled
state's own, which differs by the hand's last physics step (about 1e-4 in drawer-open-v3's hand
position), nor run a reset's ``Scene.reset_steps``. Nor does it report pad contacts
(``Scene.touching``): Warp's contacts lie in one buffer shared by the batch's worlds, and their
forces in per-world constraint rows; a scene that asks for them is refused (stick-push-v3 runs
on the C engine only).
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
        if scene.touching:
            raise ValueError(f"{scene.xml}: pad contacts (Scene.touching) are read on the C "
                             "engine only; use backend='mujoco_c'")
        super().__init__(scene)
        m, s = self.mujoco_model, self.settled
        self.model = mjx.put_model(m, impl="warp")
        self.naconmax, self.njmax, self.worlds = NACON_PER_WORLD * worlds, njmax, worlds
        self._settled = {name: np.asarray(getattr(s, name), np.float32) for name in (
            "qpos", "qvel", "ctrl", "mocap_pos", "mocap_quat", "qacc_warmstart", "time")}
        self._mocap_quat = np.asarray(MOCAP_QUAT[None], np.float32)
        self._mocap_box = (np.asarray(scene.mocap_low, np.float32),
                           np.asarray(scene.mocap_high, np.float32))
        self._static_geoms, self._static_owner = self._static_placed_geoms()
        parents = m.body_parentid[self.placed_body_ids]
        self._parent_rot = np.asarray(s.xmat[parents].reshape(-1, 3, 3), np.float32)
        self._offsets = np.asarray(self.body_offsets, np.float32)
        self._default_pos = np.asarray(m.body_pos[self.placed_body_ids], np.float32)

    def _static_placed_geoms(self) -> tuple[np.ndarray, np.ndarray]:
        """(geoms welded to the world below a placed body, the index of that placed body)."""
        m, geoms, owners = self.mujoco_model, [], []
        for g, body in enumerate(m.geom_bodyid):
            if m.body_weldid[body] != 0:
                continue
            while body != 0 and body not in self.placed_body_ids:
                body = m.body_parentid[body]
            if body != 0:
                geoms.append(g)
                owners.append(list(self.placed_body_ids).index(body))
        return np.array(geoms, int), np.array(owners, int)

    def _frame(self, d: mjx.Data) -> Frame:
        return Frame(qpos=d.qpos, qvel=d.qvel, mocap_pos=d.mocap_pos[0],
                     xpos=d.xpos[self.body_ids], site_xpos=d.site_xpos[self.site_ids],
                     geom_xpos=d.geom_xpos[self.geom_ids], geom_xmat=d.geom_xmat[self.geom_ids],
                     touching=jnp.zeros(0))

    def _placed(self, model: mjx.Model, bodies: jax.Array) -> mjx.Model:
        """``model`` with the placed bodies at ``bodies``: under vmap a batched model field,
        one ``body_pos`` per world (MuJoCo-Warp reads batched model fields per world)."""
        return model.replace(
            body_pos=model.body_pos.at[self.placed_body_ids].set(bodies + self._offsets))

    def _fault(self, d: mjx.Data) -> jax.Array:
        """int32 []: 1 where Warp overflowed a buffer or the state is not finite."""
        overflow = ((d._impl.overflow != 0) | (d._impl.nacon[0] > self.naconmax)
                    | (d._impl.nefc > self.njmax))
        finite = jnp.all(jnp.isfinite(d.qpos)) & jnp.all(jnp.isfinite(d.qvel))
        return (jnp.any(overflow) | ~finite).astype(jnp.int32)

    def start(self, placed: jax.Array, bodies: jax.Array, model: mjx.Model) -> SawyerState:
        chex.assert_shape(bodies, (len(self.placed_body_ids), 3))
        s, scene, bodies = self._settled, self.scene, bodies.astype(jnp.float32)
        d = mjx.make_data(self.mujoco_model, impl="warp", naconmax=self.naconmax,
                          njmax=self.njmax)
        shift = jnp.einsum("kij,kj->ki", self._parent_rot,
                           bodies + self._offsets - self._default_pos)
        d = d.replace(geom_xpos=d.geom_xpos.at[self._static_geoms].add(
            shift[self._static_owner]))
        d = d.replace(
            qpos=jnp.asarray(s["qpos"]).at[np.array(scene.placed_qpos, int)].set(
                placed + np.float32(self.placements(np.zeros(len(scene.placed_qpos))))),
            qvel=jnp.asarray(s["qvel"]).at[np.array(scene.zeroed_qvel, int)].set(0.0),
            ctrl=s["ctrl"], mocap_pos=s["mocap_pos"], mocap_quat=s["mocap_quat"],
            qacc_warmstart=s["qacc_warmstart"], time=s["time"])
        d = mjx.forward(self._placed(model, bodies), d)  # Meta-World's set_state.
        return SawyerState(sim=d, frame=self._frame(d), fault=self._fault(d), bodies=bodies,
                           init_tcp=jnp.asarray(self.init_tcp))

    def step(self, state: SawyerState, action: jax.Array, model: mjx.Model) -> SawyerState:
        chex.assert_shape(action, (4,))
        d = state.sim
        action = jnp.clip(action, -1.0, 1.0)
        mocap = jnp.clip(d.mocap_pos[0] + action[:3] * ACTION_SCALE, *self._mocap_box)
        d = d.replace(mocap_pos=mocap[None], mocap_quat=self._mocap_quat,
                      ctrl=jnp.stack([action[3], -action[3]]))
        model = self._placed(model, state.bodies)
        d = jax.lax.fori_loop(0, FRAME_SKIP, lambda _, d: mjx.step(model, d), d)
        d = mjx.forward(model, d)  # Meta-World's forward pass after the physics steps.
        return state.replace(sim=d, frame=self._frame(d),
                             fault=jnp.maximum(state.fault, self._fault(d)))
