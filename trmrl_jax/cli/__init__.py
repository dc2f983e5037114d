"""The command lines: ``trmrl-train``, ``trmrl-evaluate``, ``trmrl-compare`` (also run as
``python -m experiments.train`` etc. from a checkout)."""
