"""Adapters of the Broker and MarketData ports."""
