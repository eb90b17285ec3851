"""Measuring the simulator against real quotes: fitting a model to a day (calibrate), scoring a model against
another day (fidelity), the chains a session journal fetched as a quote source (journal_quotes), and the
commands (cli)."""
