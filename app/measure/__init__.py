"""Measuring the bandit: the propensity log it writes and the inputs of off-policy evaluation."""
