"""Meta-World v3 task distributions on its Sawyer scenes (``trmrl_jax.physics.sawyer``)."""

from trmrl_jax.envs.metaworld.base import MetaWorldTask
from trmrl_jax.envs.metaworld.door import ML1DoorClose, ML1DoorOpen
from trmrl_jax.envs.metaworld.drawer import ML1DrawerClose, ML1DrawerOpen
from trmrl_jax.envs.metaworld.lever import ML1LeverPull
from trmrl_jax.envs.metaworld.pick_place import ML1PickPlace
from trmrl_jax.envs.metaworld.push import ML1Push
from trmrl_jax.envs.metaworld.reach import ML1Reach
from trmrl_jax.envs.metaworld.shelf_place import ML1ShelfPlace
from trmrl_jax.envs.metaworld.sweep_into import ML1SweepInto

__all__ = ["ML1DoorClose", "ML1DoorOpen", "ML1DrawerClose", "ML1DrawerOpen", "ML1LeverPull",
           "ML1PickPlace", "ML1Push", "ML1Reach", "ML1ShelfPlace", "ML1SweepInto",
           "MetaWorldTask"]
