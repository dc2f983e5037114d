"""Meta-World's ML10 and ML45 (``metaworld/env_dict.py``, ``ML10_V3``, ``ML45_V3``) as
mixtures of the ported environments; ``ported`` gives those whose environments all are."""

from __future__ import annotations

from trmrl_jax.envs.metaworld.assembly import ML1Assembly, ML1Disassemble
from trmrl_jax.envs.metaworld.base import MetaWorldTask
from trmrl_jax.envs.metaworld.basketball import ML1Basketball
from trmrl_jax.envs.metaworld.bin_picking import ML1BinPicking
from trmrl_jax.envs.metaworld.box_close import ML1BoxClose
from trmrl_jax.envs.metaworld.button import ML1ButtonPressTopdown
from trmrl_jax.envs.metaworld.button_press import (
    ML1ButtonPress,
    ML1ButtonPressTopdownWall,
    ML1ButtonPressWall,
)
from trmrl_jax.envs.metaworld.coffee import ML1CoffeeButton, ML1CoffeePull, ML1CoffeePush
from trmrl_jax.envs.metaworld.dial import ML1DialTurn
from trmrl_jax.envs.metaworld.door import ML1DoorClose, ML1DoorOpen
from trmrl_jax.envs.metaworld.door_lock import ML1DoorLock, ML1DoorUnlock
from trmrl_jax.envs.metaworld.drawer import ML1DrawerClose, ML1DrawerOpen
from trmrl_jax.envs.metaworld.faucet import ML1FaucetClose, ML1FaucetOpen
from trmrl_jax.envs.metaworld.hammer import ML1Hammer
from trmrl_jax.envs.metaworld.hand_insert import ML1HandInsert
from trmrl_jax.envs.metaworld.handle import (
    ML1HandlePress,
    ML1HandlePressSide,
    ML1HandlePull,
    ML1HandlePullSide,
)
from trmrl_jax.envs.metaworld.lever import ML1LeverPull
from trmrl_jax.envs.metaworld.mixture import MetaWorldMixture, mixture
from trmrl_jax.envs.metaworld.peg import ML1PegInsertSide
from trmrl_jax.envs.metaworld.peg_unplug import ML1PegUnplugSide
from trmrl_jax.envs.metaworld.pick_out_of_hole import ML1PickOutOfHole
from trmrl_jax.envs.metaworld.pick_place import ML1PickPlace
from trmrl_jax.envs.metaworld.plate import (
    ML1PlateSlide,
    ML1PlateSlideBack,
    ML1PlateSlideBackSide,
    ML1PlateSlideSide,
)
from trmrl_jax.envs.metaworld.push import ML1Push
from trmrl_jax.envs.metaworld.push_back import ML1PushBack
from trmrl_jax.envs.metaworld.reach import ML1Reach
from trmrl_jax.envs.metaworld.shelf_place import ML1ShelfPlace
from trmrl_jax.envs.metaworld.soccer import ML1Soccer
from trmrl_jax.envs.metaworld.stick import ML1StickPull, ML1StickPush
from trmrl_jax.envs.metaworld.sweep import ML1Sweep
from trmrl_jax.envs.metaworld.sweep_into import ML1SweepInto
from trmrl_jax.envs.metaworld.wall import ML1PickPlaceWall, ML1PushWall, ML1ReachWall
from trmrl_jax.envs.metaworld.window import ML1WindowOpen
from trmrl_jax.envs.metaworld.window_close import ML1WindowClose

# Meta-World's name -> the ML1 class that ports it. A port adds its line here; a benchmark
# registers (``envs.make("ml10")``) once every environment it names is here.
PORTED: dict[str, type[MetaWorldTask]] = {
    "reach-v3": ML1Reach,
    "push-v3": ML1Push,
    "pick-place-v3": ML1PickPlace,
    "door-open-v3": ML1DoorOpen,
    "drawer-close-v3": ML1DrawerClose,
    "button-press-topdown-v3": ML1ButtonPressTopdown,
    "window-open-v3": ML1WindowOpen,
    "sweep-v3": ML1Sweep,
    "basketball-v3": ML1Basketball,
    "peg-insert-side-v3": ML1PegInsertSide,
    "drawer-open-v3": ML1DrawerOpen,
    "door-close-v3": ML1DoorClose,
    "shelf-place-v3": ML1ShelfPlace,
    "sweep-into-v3": ML1SweepInto,
    "lever-pull-v3": ML1LeverPull,
    "reach-wall-v3": ML1ReachWall,
    "push-wall-v3": ML1PushWall,
    "pick-place-wall-v3": ML1PickPlaceWall,
    "push-back-v3": ML1PushBack,
    "plate-slide-v3": ML1PlateSlide,
    "plate-slide-side-v3": ML1PlateSlideSide,
    "plate-slide-back-v3": ML1PlateSlideBack,
    "plate-slide-back-side-v3": ML1PlateSlideBackSide,
    "pick-out-of-hole-v3": ML1PickOutOfHole,
    "hand-insert-v3": ML1HandInsert,
    "soccer-v3": ML1Soccer,
    "window-close-v3": ML1WindowClose,
    "door-lock-v3": ML1DoorLock,
    "door-unlock-v3": ML1DoorUnlock,
    "box-close-v3": ML1BoxClose,
    "bin-picking-v3": ML1BinPicking,
    "hammer-v3": ML1Hammer,
    "peg-unplug-side-v3": ML1PegUnplugSide,
    "assembly-v3": ML1Assembly,
    "disassemble-v3": ML1Disassemble,
    "coffee-button-v3": ML1CoffeeButton,
    "coffee-pull-v3": ML1CoffeePull,
    "coffee-push-v3": ML1CoffeePush,
    "button-press-v3": ML1ButtonPress,
    "button-press-wall-v3": ML1ButtonPressWall,
    "button-press-topdown-wall-v3": ML1ButtonPressTopdownWall,
    "handle-press-side-v3": ML1HandlePressSide,
    "handle-pull-side-v3": ML1HandlePullSide,
    "handle-press-v3": ML1HandlePress,
    "handle-pull-v3": ML1HandlePull,
    "dial-turn-v3": ML1DialTurn,
    "faucet-open-v3": ML1FaucetOpen,
    "faucet-close-v3": ML1FaucetClose,
    "stick-push-v3": ML1StickPush,
    "stick-pull-v3": ML1StickPull,
}

# Registry name -> (train environments, held-out environments), Meta-World's lists and order.
BENCHMARKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ml10": (("reach-v3", "push-v3", "pick-place-v3", "door-open-v3", "drawer-close-v3",
              "button-press-topdown-v3", "peg-insert-side-v3", "window-open-v3", "sweep-v3",
              "basketball-v3"),
             ("drawer-open-v3", "door-close-v3", "shelf-place-v3", "sweep-into-v3",
              "lever-pull-v3")),
    "ml45": (("assembly-v3", "basketball-v3", "button-press-topdown-v3",
              "button-press-topdown-wall-v3", "button-press-v3", "button-press-wall-v3",
              "coffee-button-v3", "coffee-pull-v3", "coffee-push-v3", "dial-turn-v3",
              "disassemble-v3", "door-close-v3", "door-open-v3", "drawer-close-v3",
              "drawer-open-v3", "faucet-open-v3", "faucet-close-v3", "hammer-v3",
              "handle-press-side-v3", "handle-press-v3", "handle-pull-side-v3", "handle-pull-v3",
              "lever-pull-v3", "pick-place-wall-v3", "pick-out-of-hole-v3", "push-back-v3",
              "pick-place-v3", "plate-slide-v3", "plate-slide-side-v3", "plate-slide-back-v3",
              "plate-slide-back-side-v3", "peg-insert-side-v3", "peg-unplug-side-v3",
              "soccer-v3", "stick-push-v3", "stick-pull-v3", "push-wall-v3", "push-v3",
              "reach-wall-v3", "reach-v3", "shelf-place-v3", "sweep-into-v3", "sweep-v3",
              "window-open-v3", "window-close-v3"),
             ("bin-picking-v3", "box-close-v3", "hand-insert-v3", "door-lock-v3",
              "door-unlock-v3")),
}


def missing(name: str) -> tuple[str, ...]:
    """The environments of benchmark ``name`` not ported yet."""
    train, held_out = BENCHMARKS[name]
    return tuple(env for env in train + held_out if env not in PORTED)


def ported() -> dict[str, type[MetaWorldMixture]]:
    """The benchmarks whose environments are all ported, by registry name: not registering the
    others keeps every registered name one that ``envs.make`` builds."""
    return {name: mixture([PORTED[env] for env in train], [PORTED[env] for env in held_out])
            for name, (train, held_out) in BENCHMARKS.items() if not missing(name)}
