"""python -m experiments.compare: the trmrl-compare command (trmrl_jax/cli/compare.py)."""

from trmrl_jax.cli.compare import run

if __name__ == "__main__":
    run()
