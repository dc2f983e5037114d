"""python -m experiments.visualize: the trmrl-visualize command (trmrl_jax/cli/visualize.py)."""

from trmrl_jax.cli.visualize import run

if __name__ == "__main__":
    run()
