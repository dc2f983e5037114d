"""Simulators behind one interface: ``make(body, backend)`` gives a ``Physics``.

    from trmrl_jax import physics
    cheetah = physics.make("halfcheetah", "mjx")   # Gym's model stepped by MJX
    state = cheetah.reset(key, cheetah.model)

Backends: Brax's own pipelines ``spring``, ``positional``, ``generalized`` (Brax's models,
``brax_pipeline``), and Gym's models as the reference's environments use them (``gym``) on
MuJoCo's physics: ``mjx`` (MJX, inside the compiled program, any device) and ``mujoco_c``
(MuJoCo's C engine called from it, the host's CPU). These two modules are imported only when
asked for, so Brax-only users never load gymnasium.
"""

from __future__ import annotations

from trmrl_jax.physics.base import PARAMETERS, Model, Physics
from trmrl_jax.physics.brax_pipeline import BACKENDS as BRAX_BACKENDS
from trmrl_jax.physics.brax_pipeline import BODIES, BraxPipeline

BACKENDS = BRAX_BACKENDS + ("mjx", "mujoco_c")


def make(body: str, backend: str = "spring", *, observe_position: bool = False) -> Physics:
    """``body`` ("halfcheetah" or "ant") simulated by ``backend``; ``observe_position`` keeps
    the torso's horizontal coordinates in the observation."""
    if body not in BODIES:
        raise ValueError(f"body={body!r} is not available; choose one of {', '.join(BODIES)}")
    if backend == "mjx":
        from trmrl_jax.physics import mjx

        return mjx.BODIES[body](observe_position)
    if backend == "mujoco_c":
        from trmrl_jax.physics import mujoco_c

        return mujoco_c.BODIES[body](observe_position)
    if backend not in BRAX_BACKENDS:
        raise ValueError(f"backend={backend!r} is not available for body {body!r}; choose one "
                         f"of {', '.join(BACKENDS)}")
    return BraxPipeline(body, backend, observe_position)


__all__ = ["BACKENDS", "BODIES", "PARAMETERS", "BraxPipeline", "Model", "Physics", "make"]
