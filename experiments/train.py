"""python -m experiments.train: the trmrl-train command (trmrl_jax/cli/train.py)."""

from trmrl_jax.cli.train import run

if __name__ == "__main__":
    run()
