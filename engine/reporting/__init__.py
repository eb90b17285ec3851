"""The reports, built from journals alone: a day's figures and metrics (day), across days (summary), drawn
(charts: what each shows, as chart_model data; svg for the pages, matplotlib_render for the PNGs of report.png;
html), written (files), said on the console (console), and the `report` command (cli)."""
