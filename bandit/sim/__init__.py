"""Simulators with known truth: synthetic visitors for the click policy, a game's players for the
revenue policy. Used by ``slotbandit simulate``/``simulate-game`` and the tests, never by the service."""
from bandit.sim.clicks import SyntheticWorld, demo_world, run_in_process
from bandit.sim.scores import CityResult, SimulationReport

__all__ = ["CityResult", "SimulationReport", "SyntheticWorld", "demo_world", "run_in_process"]
