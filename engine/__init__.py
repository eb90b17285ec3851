"""zdte: a finite-state machine that paper-trades 0DTE option spreads; README.md says where each concern lives."""
