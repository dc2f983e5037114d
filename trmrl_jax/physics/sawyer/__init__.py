"""Meta-World's Sawyer scenes behind one interface: ``make(scene, backend)`` gives a ``Sawyer``.

Backends, one module each, imported only when asked for (the C path never loads Warp):
``mujoco_c`` (MuJoCo's C engine called from the compiled step) and ``mjx_warp`` (MJX's Warp
implementation). ``default_backend()`` picks one per JAX platform (BUILD.md, "Meta-World").
``mixture.NativeMixture`` steps worlds of several scenes in one batch on the C engine.
"""

from __future__ import annotations

import jax

from trmrl_jax.physics.sawyer.scene import Frame, Sawyer, SawyerState, Scene

BACKENDS = ("mujoco_c", "mjx_warp")


def default_backend() -> str:
    """``mujoco_c`` on CPUs (tens of times faster than Warp there), ``mjx_warp`` on GPUs."""
    return "mujoco_c" if jax.default_backend() == "cpu" else "mjx_warp"


def make(scene: Scene, backend: str, worlds: int = 256) -> Sawyer:
    """``scene`` on ``backend``; ``worlds``: the most worlds one vmapped call steps (Warp sizes
    its shared contact buffer by it; the C engine needs no sizes)."""
    if backend == "mujoco_c":
        from trmrl_jax.physics.sawyer.mujoco_c import Native

        return Native(scene)
    if backend == "mjx_warp":
        from trmrl_jax.physics.sawyer.mjx_warp import Warp

        return Warp(scene, worlds)
    raise ValueError(f"backend={backend!r} cannot simulate Meta-World; choose one of "
                     f"{', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Frame", "Sawyer", "SawyerState", "Scene", "default_backend", "make"]
