"""trmrl_jax: TrMRL meta-RL on vmapped Brax task distributions, one compiled train step.

    config, policy = trmrl_jax.load("runs/quickstart")   # a trained run, ready to act
    from trmrl_jax.train import train                     # train(config, callbacks=[...])
"""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lazy: ``import trmrl_jax`` stays light (no JAX or Brax import) until ``load`` is used.
    if name == "load":
        from trmrl_jax.api import load

        return load
    raise AttributeError(f"module 'trmrl_jax' has no attribute {name!r}")


__all__ = ["load"]
