"""Strategies decide whether and what to trade; they never send orders themselves."""
