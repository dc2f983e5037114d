"""python -m experiments.evaluate: the trmrl-evaluate command (trmrl_jax/cli/evaluate.py)."""

from trmrl_jax.cli.evaluate import run

if __name__ == "__main__":
    run()
