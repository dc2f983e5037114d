"""Meta-World's Sawyer scenes behind one interface: ``make(scene, backend)`` gives a ``Sawyer``.

Backends: ``mujoco_c`` (MuJoCo's C engine called from the compiled step, ``native``) and
``mjx_warp`` (MJX's Warp implementation, ``warp``); ``default_backend()`` picks the faster for
JAX's platform, as measured (BUILD.md, "Meta-World"). Each module is imported only when asked
for, so the C path never loads Warp.
"""

from __future__ import annotations

import jax

from trmrl_jax.physics.sawyer.scene import Frame, Sawyer, SawyerState, Scene

BACKENDS = ("mujoco_c", "mjx_warp")


def default_backend() -> str:
    """``mujoco_c`` on CPUs (tens of times faster than Warp there), ``mjx_warp`` on GPUs."""
    return "mujoco_c" if jax.default_backend() == "cpu" else "mjx_warp"


def make(scene: Scene, backend: str) -> Sawyer:
    if backend == "mujoco_c":
        from trmrl_jax.physics.sawyer.native import Native

        return Native(scene)
    if backend == "mjx_warp":
        from trmrl_jax.physics.sawyer.warp import Warp

        return Warp(scene)
    raise ValueError(f"backend={backend!r} cannot simulate Meta-World; choose one of "
                     f"{', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Frame", "Sawyer", "SawyerState", "Scene", "default_backend", "make"]
