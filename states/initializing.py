"""Initializing: a reachable paper account allowed to trade spreads, then reconciliation with the broker."""

from __future__ import annotations

from contextlib import suppress

from loguru import logger

from engine.context import Context, Step
from engine.errors import OrderRejected
from engine.reconcile import day_start, reconcile


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
        return Step("fail", refusal, exit_code=2)
    summary = adopt_from_broker(ctx)
    return Step(
        "ready",
        f"paper account {account.account_id}, options level {account.options_level}, equity {account.equity:.2f}; "
        f"{summary}",
    )


def adopt_from_broker(ctx: Context) -> str:
    """Take back what the broker holds from an earlier run of this engine today; the decision is journaled."""
    day = ctx.days.day
    orders = ctx.broker.orders_since(day_start(day))
    rec = reconcile(
        day,
        ctx.cfg.orders.client_order_id_prefix,
        orders,
        ctx.broker.positions(),
        ctx.now,
        ctx.cfg.instrument.multiplier,
        ctx.book.earlier,
    )
    for order in rec.extra_working:
        with suppress(OrderRejected):
            ctx.broker.cancel_order(order.id)
    ctx.book.adopt(rec)
    ctx.parts.orders.restore(day, rec.attempts)
    ctx.record("reconcile", **rec.record())
    for p in rec.foreign:
        logger.warning(f"position {p.symbol} x{p.qty} was not opened by this engine: left alone")
    for s in rec.broken:
        logger.error(f"trade {s.trade_no}: {s.force_exit}; closing what is left as one order")
    return rec.summary
