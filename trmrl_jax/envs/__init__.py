"""Task distributions by name: ``make``, ``register`` and ``registered``.

    from trmrl_jax import envs
    envs.register("my_dist", MyDistribution)   # any TaskDistribution factory
    env = envs.make("my_dist")
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from trmrl_jax.envs.base import SPLITS, Task, TaskDistribution
from trmrl_jax.envs.brax_env import TaskEnv
from trmrl_jax.envs.dynamics import HalfCheetahRandParams
from trmrl_jax.envs.locomotion import (
    AntDirArc,
    AntDirPm1Rad,
    AntFwdBack,
    AntGoal,
    HalfCheetahDir,
    HalfCheetahVel,
)
from trmrl_jax.envs.metaworld import (
    ML1Basketball,
    ML1ButtonPressTopdown,
    ML1DoorClose,
    ML1DoorOpen,
    ML1DrawerClose,
    ML1DrawerOpen,
    ML1LeverPull,
    ML1PegInsertSide,
    ML1PickPlace,
    ML1Push,
    ML1Reach,
    ML1ShelfPlace,
    ML1Sweep,
    ML1SweepInto,
    ML1WindowOpen,
    ported,
)
from trmrl_jax.envs.metaworld.assembly import ML1Assembly, ML1Disassemble
from trmrl_jax.envs.metaworld.bin_picking import ML1BinPicking
from trmrl_jax.envs.metaworld.box_close import ML1BoxClose
from trmrl_jax.envs.metaworld.button_press import (
    ML1ButtonPress,
    ML1ButtonPressTopdownWall,
    ML1ButtonPressWall,
)
from trmrl_jax.envs.metaworld.coffee import ML1CoffeeButton, ML1CoffeePull, ML1CoffeePush
from trmrl_jax.envs.metaworld.dial import ML1DialTurn
from trmrl_jax.envs.metaworld.door_lock import ML1DoorLock, ML1DoorUnlock
from trmrl_jax.envs.metaworld.faucet import ML1FaucetClose, ML1FaucetOpen
from trmrl_jax.envs.metaworld.hammer import ML1Hammer
from trmrl_jax.envs.metaworld.hand_insert import ML1HandInsert
from trmrl_jax.envs.metaworld.handle import (
    ML1HandlePress,
    ML1HandlePressSide,
    ML1HandlePull,
    ML1HandlePullSide,
)
from trmrl_jax.envs.metaworld.peg_unplug import ML1PegUnplugSide
from trmrl_jax.envs.metaworld.pick_out_of_hole import ML1PickOutOfHole
from trmrl_jax.envs.metaworld.plate import (
    ML1PlateSlide,
    ML1PlateSlideBack,
    ML1PlateSlideBackSide,
    ML1PlateSlideSide,
)
from trmrl_jax.envs.metaworld.push_back import ML1PushBack
from trmrl_jax.envs.metaworld.soccer import ML1Soccer
from trmrl_jax.envs.metaworld.stick import ML1StickPull, ML1StickPush
from trmrl_jax.envs.metaworld.wall import ML1PickPlaceWall, ML1PushWall, ML1ReachWall
from trmrl_jax.envs.metaworld.window_close import ML1WindowClose
from trmrl_jax.envs.point_nav import PointNav
from trmrl_jax.envs.trial import Observation, TrialEnv, TrialState

_REGISTRY: dict[str, Callable[..., TaskDistribution]] = {}


def register(name: str, factory: Callable[..., TaskDistribution]) -> None:
    """Makes ``factory`` available as ``make(name)`` and as ``Config(env=name)``."""
    if not name or not isinstance(name, str):
        raise ValueError(f"env name {name!r} must be a non-empty string")
    _REGISTRY[name] = factory


def registered() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def default_episode_length(name: str) -> int:
    """H of distribution ``name`` as its factory declares it (200 when it declares none)."""
    return int(getattr(_REGISTRY[name], "default_episode_length", 200))


def backends(name: str) -> tuple[str, ...] | None:
    """The ``Config.backend`` values distribution ``name`` runs on (None: it has no physics)."""
    return getattr(_REGISTRY[name], "backends", None)


def make(name: str, **kwargs: Any) -> TaskDistribution:
    """Builds distribution ``name``; keyword arguments its factory does not take are dropped,
    so ``make(name, backend=...)`` works for pure-JAX and Brax distributions alike."""
    if name not in _REGISTRY:
        raise ValueError(f"env={name!r} is not registered; choose one of {', '.join(registered())}")
    factory = _REGISTRY[name]
    params = inspect.signature(factory).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return factory(**kwargs)


register("point_nav", PointNav)
register("halfcheetah_vel", HalfCheetahVel)
register("halfcheetah_dir", HalfCheetahDir)
register("ant_fwd_back", AntFwdBack)
register("ant_dir_arc", AntDirArc)
register("ant_dir_pm1rad", AntDirPm1Rad)
register("ant_goal", AntGoal)
register("halfcheetah_rand_params", HalfCheetahRandParams)
register("ml1_reach", ML1Reach)
register("ml1_push", ML1Push)
register("ml1_pick_place", ML1PickPlace)
register("ml1_door_open", ML1DoorOpen)
register("ml1_drawer_close", ML1DrawerClose)
register("ml1_button_press_topdown", ML1ButtonPressTopdown)
register("ml1_window_open", ML1WindowOpen)
register("ml1_sweep", ML1Sweep)
register("ml1_basketball", ML1Basketball)
register("ml1_peg_insert_side", ML1PegInsertSide)
register("ml1_drawer_open", ML1DrawerOpen)
register("ml1_door_close", ML1DoorClose)
register("ml1_lever_pull", ML1LeverPull)
register("ml1_sweep_into", ML1SweepInto)
register("ml1_shelf_place", ML1ShelfPlace)
register("ml1_reach_wall", ML1ReachWall)
register("ml1_push_wall", ML1PushWall)
register("ml1_pick_place_wall", ML1PickPlaceWall)
register("ml1_push_back", ML1PushBack)
register("ml1_plate_slide", ML1PlateSlide)
register("ml1_plate_slide_side", ML1PlateSlideSide)
register("ml1_plate_slide_back", ML1PlateSlideBack)
register("ml1_plate_slide_back_side", ML1PlateSlideBackSide)
register("ml1_pick_out_of_hole", ML1PickOutOfHole)
register("ml1_hand_insert", ML1HandInsert)
register("ml1_soccer", ML1Soccer)
register("ml1_window_close", ML1WindowClose)
register("ml1_door_lock", ML1DoorLock)
register("ml1_door_unlock", ML1DoorUnlock)
register("ml1_box_close", ML1BoxClose)
register("ml1_bin_picking", ML1BinPicking)
register("ml1_hammer", ML1Hammer)
register("ml1_peg_unplug_side", ML1PegUnplugSide)
register("ml1_assembly", ML1Assembly)
register("ml1_disassemble", ML1Disassemble)
register("ml1_coffee_button", ML1CoffeeButton)
register("ml1_coffee_pull", ML1CoffeePull)
register("ml1_coffee_push", ML1CoffeePush)
register("ml1_button_press", ML1ButtonPress)
register("ml1_button_press_wall", ML1ButtonPressWall)
register("ml1_button_press_topdown_wall", ML1ButtonPressTopdownWall)
register("ml1_handle_press_side", ML1HandlePressSide)
register("ml1_handle_pull_side", ML1HandlePullSide)
register("ml1_handle_press", ML1HandlePress)
register("ml1_handle_pull", ML1HandlePull)
register("ml1_dial_turn", ML1DialTurn)
register("ml1_faucet_open", ML1FaucetOpen)
register("ml1_faucet_close", ML1FaucetClose)
register("ml1_stick_push", ML1StickPush)
register("ml1_stick_pull", ML1StickPull)
for _name, _benchmark in ported().items():  # ml10, ml45 once their environments are ported.
    register(_name, _benchmark)

__all__ = ["SPLITS", "Task", "TaskDistribution", "TaskEnv", "Observation", "TrialEnv", "TrialState",
           "backends", "default_episode_length", "make", "register", "registered"]
