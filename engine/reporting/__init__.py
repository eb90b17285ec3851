"""The reports, built from journals alone: a day's figures and metrics (day), across days (summary), drawn
(charts, html), written (files), said on the console (console), and the `report` command (cli)."""
