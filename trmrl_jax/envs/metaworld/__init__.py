"""Meta-World v3 task distributions on its Sawyer scenes (``trmrl_jax.physics.sawyer``): ML1
environments, and mixtures of them (ML10, ML45)."""

from trmrl_jax.envs.metaworld.base import MetaWorldTask
from trmrl_jax.envs.metaworld.basketball import ML1Basketball
from trmrl_jax.envs.metaworld.benchmarks import BENCHMARKS, PORTED, missing, ported
from trmrl_jax.envs.metaworld.button import ML1ButtonPressTopdown
from trmrl_jax.envs.metaworld.door import ML1DoorClose, ML1DoorOpen
from trmrl_jax.envs.metaworld.drawer import ML1DrawerClose, ML1DrawerOpen
from trmrl_jax.envs.metaworld.lever import ML1LeverPull
from trmrl_jax.envs.metaworld.mixture import MetaWorldMixture, mixture
from trmrl_jax.envs.metaworld.peg import ML1PegInsertSide
from trmrl_jax.envs.metaworld.pick_place import ML1PickPlace
from trmrl_jax.envs.metaworld.push import ML1Push
from trmrl_jax.envs.metaworld.reach import ML1Reach
from trmrl_jax.envs.metaworld.shelf_place import ML1ShelfPlace
from trmrl_jax.envs.metaworld.sweep import ML1Sweep
from trmrl_jax.envs.metaworld.sweep_into import ML1SweepInto
from trmrl_jax.envs.metaworld.window import ML1WindowOpen

__all__ = ["BENCHMARKS", "ML1Basketball", "ML1ButtonPressTopdown", "ML1DoorClose", "ML1DoorOpen",
           "ML1DrawerClose", "ML1DrawerOpen", "ML1LeverPull", "ML1PegInsertSide", "ML1PickPlace",
           "ML1Push", "ML1Reach", "ML1ShelfPlace", "ML1Sweep", "ML1SweepInto", "ML1WindowOpen",
           "MetaWorldMixture", "MetaWorldTask", "PORTED", "missing", "mixture", "ported"]
