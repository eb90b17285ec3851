"""Sweeps: a grid of independent simulated sessions (parameter sets x dates x seeds), run locally or on Ray.

A cell is one session, run exactly as `run --set ... --date D --seed S` would run it, so a sweep's row can
always be checked by running its cell alone. Only the grid, the executors and the files live here; the
engine itself knows nothing of sweeps.
"""
