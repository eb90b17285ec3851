"""The embedded market: simulated underlying, Black–Scholes option chain and a paper exchange."""
