"""Several Sawyer scenes in one batch on MuJoCo's C engine: every world is stepped once, by its
own scene.

Why: a batch of tasks of ML10/ML45 mixes environments. Under ``jax.vmap`` a per-world
``lax.switch`` over K scenes runs every branch for every world, so K callbacks each stepping the
whole batch: K times the physics. Here one callback steps the whole batch, world i with the
model of its scene (``scene[i]``), through that scene's ``Native.start_world``/``step_world``.
The threads take the worlds in scene order, so that each scene is stepped by few threads at
once and holds few model copies (``Native``'s slots), however many threads there are.

Padding: a world's state is its scene's ``mj_stateSize`` float64s, padded with zeros to the
largest scene's (``nstate``; ``nstates`` the true sizes), carried as raw bits as ``Native``
carries them. The frame the callback returns is one common layout, each field padded to the
largest scene's (qpos, qvel, bodies, sites, geoms, touching), and the state's ``frame`` a
``Frame`` of those padded fields; ``frame(padded, s)`` cuts scene s's own ``Frame`` out of it,
the same float32 values ``Native`` gives.
"""

from __future__ import annotations

from typing import Sequence

import chex
import jax
import jax.numpy as jnp
import numpy as np

from trmrl_jax.physics.sawyer.mujoco_c import Native, unflatten
from trmrl_jax.physics.sawyer.scene import Frame, SawyerState


class NativeMixture:
    """Scenes ``natives`` (one ``Native`` each, built with the same thread count) stepped in one
    batch; ``scene`` arguments are int32 indices into ``natives``. Methods act on one unbatched
    world, as ``Sawyer``'s do; a batch is a vmap of them."""

    def __init__(self, natives: Sequence[Native]):
        if len({n.workers.threads for n in natives}) != 1:
            raise ValueError("the scenes of a mixture must step in the same number of threads")
        self.natives = tuple(natives)
        self.workers = natives[0].workers
        self.nstates = np.array([n.nstate for n in natives])
        self.nstate = int(self.nstates.max())
        self.placed_size = max(len(n.scene.placed_qpos) for n in natives)
        self.bodies_size = max(len(n.placed_body_ids) for n in natives)
        sizes = np.array([n.frame_sizes for n in natives])  # [K, fields]
        self.frame_sizes = tuple(int(x) for x in sizes.max(0))
        offsets = np.cumsum((0,) + self.frame_sizes)[:-1]
        # Scene s's own flat frame goes to entries _index[s] of the padded one.
        self._index = [np.concatenate([o + np.arange(n) for o, n in zip(offsets, own)])
                       for own in sizes]
        self._shapes = (jax.ShapeDtypeStruct((2 * self.nstate,), jnp.uint32),
                        jax.ShapeDtypeStruct((sum(self.frame_sizes),), jnp.float32))

    def frame(self, padded: Frame, s: int) -> Frame:
        """The state's padded ``Frame`` -> scene ``s``'s own (static ``s``): each field's leading
        rows."""
        native = self.natives[s]
        m, bodies, sites, geoms, touch = (native.mujoco_model, len(native.body_ids),
                                          len(native.site_ids), len(native.geom_ids),
                                          len(native.touch_ids))
        return Frame(qpos=padded.qpos[:m.nq], qvel=padded.qvel[:m.nv],
                     mocap_pos=padded.mocap_pos, xpos=padded.xpos[:bodies],
                     site_xpos=padded.site_xpos[:sites], geom_xpos=padded.geom_xpos[:geoms],
                     geom_xmat=padded.geom_xmat[:geoms], touching=padded.touching[:touch])

    def _flat(self, scene: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
        """Flattens the leading axes of ``scene`` [...] and of ``arrays`` [..., *]."""
        count = scene.size
        return [np.ravel(scene)] + [np.asarray(a).reshape((count,) + a.shape[scene.ndim:])
                                    for a in arrays]

    def _host_start(self, scene: np.ndarray, placed: np.ndarray, bodies: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """scene [...], placed [..., placed_size], bodies [..., bodies_size, 3] -> (state bits
        [..., 2 nstate], padded frames [..., frame size], init_tcps [..., 3] float32)."""
        lead = scene.shape
        scene, placed, bodies = self._flat(scene, np.asarray(placed, np.float64),
                                           np.asarray(bodies, np.float64))
        states = np.zeros((len(scene), self.nstate))
        frames = np.zeros((len(scene), sum(self.frame_sizes)), np.float32)
        tcps = np.empty((len(scene), 3), np.float32)

        def world(i: int) -> None:
            s = scene[i]
            native = self.natives[s]
            frame = np.empty(len(self._index[s]), np.float32)
            tcps[i] = native.start_world(placed[i, :len(native.scene.placed_qpos)],
                                         bodies[i, :len(native.placed_body_ids)],
                                         states[i, :self.nstates[s]], frame)
            frames[i, self._index[s]] = frame

        self.workers.run(world, len(scene), [n.lock for n in self.natives],
                         np.argsort(scene, kind="stable"))
        return (states.view(np.uint32).reshape(lead + (-1,)), frames.reshape(lead + (-1,)),
                tcps.reshape(lead + (3,)))

    def _host_step(self, scene: np.ndarray, bits: np.ndarray, bodies: np.ndarray,
                   action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """scene [...], bits [..., 2 nstate], bodies [..., bodies_size, 3], action [..., 4] ->
        (bits, padded frames [..., frame size], fault [...] int32)."""
        lead = scene.shape
        scene, bits, bodies, actions = self._flat(scene, bits, np.asarray(bodies, np.float64),
                                                  action)
        states = np.ascontiguousarray(bits).view(np.float64)
        new = np.zeros_like(states)
        frames = np.zeros((len(scene), sum(self.frame_sizes)), np.float32)
        faults = np.zeros(len(scene), np.int32)

        def world(i: int) -> None:
            s = scene[i]
            native = self.natives[s]
            n, frame = self.nstates[s], np.empty(len(self._index[s]), np.float32)
            faults[i] = native.step_world(states[i, :n],
                                          bodies[i, :len(native.placed_body_ids)], actions[i],
                                          new[i, :n], frame)
            frames[i, self._index[s]] = frame

        self.workers.run(world, len(scene), [n.lock for n in self.natives],
                         np.argsort(scene, kind="stable"))
        return (new.view(np.uint32).reshape(lead + (-1,)), frames.reshape(lead + (-1,)),
                faults.reshape(lead))

    def start(self, scene: jax.Array, placed: jax.Array, bodies: jax.Array) -> SawyerState:
        """``Native.start`` of scene ``scene`` (int32 []): placed [placed_size], bodies
        [bodies_size, 3], each scene reading its own leading entries. The state's ``frame`` is
        padded (``frame`` cuts a scene's own out)."""
        chex.assert_shape([placed, bodies], [(self.placed_size,), (self.bodies_size, 3)])
        bodies = bodies.astype(jnp.float32)
        bits, flat, init_tcp = jax.pure_callback(
            self._host_start, self._shapes + (jax.ShapeDtypeStruct((3,), jnp.float32),),
            scene.astype(jnp.int32), placed.astype(jnp.float32), bodies,
            vmap_method="broadcast_all")
        return SawyerState(sim=bits, frame=unflatten(flat, self.frame_sizes),
                           fault=jnp.zeros((), jnp.int32), bodies=bodies, init_tcp=init_tcp)

    def step(self, scene: jax.Array, state: SawyerState, action: jax.Array) -> SawyerState:
        """``Native.step`` of a world of scene ``scene`` (int32 []); ``action`` [4]."""
        chex.assert_shape(action, (4,))
        bits, flat, fault = jax.pure_callback(
            self._host_step, self._shapes + (jax.ShapeDtypeStruct((), jnp.int32),),
            scene.astype(jnp.int32), state.sim, state.bodies, action.astype(jnp.float32),
            vmap_method="broadcast_all")
        return state.replace(sim=bits, frame=unflatten(flat, self.frame_sizes),
                             fault=jnp.maximum(state.fault, fault))
