"""Initializing: the account must be reachable, paper, and allowed to trade spreads before anything else."""

from __future__ import annotations

from engine.context import Context, Step


def handle(ctx: Context) -> Step:
    account = ctx.refresh_account()
    refusal = None
    if not account.paper:
        refusal = f"account {account.account_id} is not a paper account: zdte trades paper only"
    elif account.options_level < 3:
        refusal = f"options level {account.options_level} < 3: multi-leg spreads are not allowed"
    elif account.status != "ACTIVE":
        refusal = f"account status is {account.status}, not ACTIVE"
    if refusal:
        ctx.exit_code = 2
        return Step("fail", refusal)
    return Step("ready", f"paper account {account.account_id}, options level {account.options_level}, "
                         f"equity {account.equity:.2f}")
