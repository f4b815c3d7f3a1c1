"""Keyed tokens, audience-sealed fields and the keys behind them."""
