"""Meta-World v3 task distributions on its Sawyer scenes (``trmrl_jax.physics.sawyer``)."""

from trmrl_jax.envs.metaworld.base import MetaWorldTask
from trmrl_jax.envs.metaworld.reach import ML1Reach

__all__ = ["ML1Reach", "MetaWorldTask"]
