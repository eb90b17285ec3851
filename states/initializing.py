"""Initializing: the account must be reachable, paper, and allowed to trade spreads before anything else."""

from __future__ import annotations

from engine.context import Context, Step


def handle(ctx: Context) -> Step:
    account = ctx.refresh_account()
    if not account.paper:
        return Step("fail", f"account {account.account_id} is not a paper account: zdte trades paper only")
    if account.options_level < 3:
        return Step("fail", f"options level {account.options_level} < 3: multi-leg spreads are not allowed")
    if account.status != "ACTIVE":
        return Step("fail", f"account status is {account.status}, not ACTIVE")
    return Step("ready", f"paper account {account.account_id}, options level {account.options_level}, "
                         f"equity {account.equity:.2f}")
