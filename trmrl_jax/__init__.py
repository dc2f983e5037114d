"""trmrl_jax: TrMRL meta-RL on vmapped Brax task distributions, one compiled train step."""

__version__ = "0.1.0"
