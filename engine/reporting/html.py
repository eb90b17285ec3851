"""The reports as one self-contained HTML file each: inline CSS and SVG, no script, nothing fetched.

Times are shown in US/Eastern; prices as a trader says them ("credit 0.71", not -0.71).
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from engine.calendar import ET

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#212121;max-width:1180px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:8px 0} td,th{border:1px solid #ddd;padding:3px 7px}
th{background:#f5f5f5;text-align:left} td.n{text-align:right;font-variant-numeric:tabular-nums}
.pos{color:#2e7d32} .neg{color:#c62828} .muted{color:#757575;font-size:12px} svg{max-width:100%;height:auto}
.met{color:#2e7d32;font-weight:600} .missed{color:#c62828;font-weight:600}
"""


def hhmm(text: str | None) -> str:
    return "" if not text else datetime.fromisoformat(text).astimezone(ET).strftime("%H:%M:%S")


def money(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f'<span class="{"pos" if value > 0 else "neg" if value < 0 else ""}">{value:+,.2f}</span>'


def cost(value: float | None) -> str:
    """Slippage in dollars: what the fill cost against mid (red), or gained on it (green)."""
    if value is None:
        return ""
    return f'<span class="{"neg" if value > 0 else "pos" if value < 0 else ""}">{value:,.2f}</span>'


def price(value: float | None) -> str:
    """A net price as a trader says it: credit (money received) or debit (money paid)."""
    if value is None:
        return ""
    return f"{'credit' if value < 0 else 'debit'} {abs(value):.2f}"


def table(table_id: str, head: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    out = [f'<table id="{table_id}"><tr>' + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        cells = "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        out.append(f"<tr>{cells}</tr>")
    out.append("</table>")
    return "\n".join(out)


def page(title: str, body: list[str]) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def chart(name: str, svg: str | None, missing: str) -> str:
    inner = svg if svg else f'<p class="muted">{escape(missing)}</p>'
    return f'<section class="chart" id="chart-{name}">{inner}</section>'


def metrics_table(metrics: dict[str, dict[str, Any]]) -> str:
    names = {
        "uptime": "uptime in market hours",
        "order_success": "order success rate",
        "api_failures": "API failure rate",
        "limit_breaches": "limit breaches",
        "expectation_gap": "expectation gap",
    }
    rows = []
    for key, label in names.items():
        m = metrics[key]
        value, target = m["value"], m["target"]
        if value is None:
            shown = "n/a"
        elif key == "limit_breaches":
            shown = str(value)
        else:
            shown = f"{100 * value:.2f}%"
        at_least = key in ("uptime", "order_success")
        goal = str(target) if key == "limit_breaches" else f"{'≥' if at_least else '≤'} {100 * target:g}%"
        verdict = "" if m["met"] is None else '<span class="met">met</span>' if m["met"] else (
            '<span class="missed">missed</span>'
        )
        definition = f'<span class="muted">{escape(m["definition"])}</span>'
        rows.append([escape(label), shown, escape(goal), verdict, escape(m["detail"]), definition])
    return table("metrics", ["metric", "value", "target", "", "measured", "definition"], rows, {1})


def trades_table(trades: list[dict[str, Any]]) -> str:
    rows = []
    for t in trades:
        legs = "<br>".join(escape(leg) for leg in t["legs"])
        rows.append([
            str(t["trade_no"]),
            f"{escape(t['direction'])} x{t['qty']}<br>{'/'.join(f'{k:g}' for k in t['strikes'])}",
            legs,
            hhmm(t["entry_time"]),
            _spot(t["entry_spot"]),
            price(t["entry_price"]),
            price(t["entry_mid"]),
            cost(t["entry_slippage"]),
            hhmm(t["exit_time"]),
            _spot(t["exit_spot"]),
            price(t["exit_price"]),
            price(t["exit_mid"]),
            cost(t["exit_slippage"]),
            escape(t["exit_reason"]),
            money(t["pnl"]),
            "" if t["pnl_pct_of_risk"] is None else f"{t['pnl_pct_of_risk']:+.1f}%",
        ])
    head = ["#", "condor", "legs", "entry", "spot", "entry price", "mid", "slippage ($)", "exit", "spot",
            "exit price", "mid", "slippage ($)", "exit reason", "P&L", "% of max risk"]
    return table("trades", head, rows, {4, 7, 9, 12, 14, 15})


def expectation_section(found: dict[str, Any] | None) -> list[str]:
    """Paper vs expectation: the day's P&L against the simulator's, and the trades one to one."""
    if found is None:
        return []
    head = "<h2>Paper vs expectation</h2>"
    if not found["measured"]:
        return [head, f'<p class="muted">not measured: {escape(found["why"])}</p>']
    verdict = "within" if found["within"] else "outside"
    market = found.get("market") or {}
    rows = []
    for pair in found["trades"]:
        p, e = pair["paper"], pair["expected"]

        def side(t: dict[str, Any] | None) -> list[str]:
            if t is None:
                return ["no trade", "", "", "", ""]
            return ['/'.join(f"{k:g}" for k in t["strikes"]), hhmm(t["entry_time"]), price(t["entry_price"]),
                    hhmm(t["exit_time"]), money(t["pnl"])]

        rows.append([*side(p), *side(e), "yes" if pair["match"] else "no"])
    return [
        head,
        f'<p>paper {money(found["paper_pnl"])} vs expected {money(found["expected_pnl"])}: gap '
        f'{100 * found["gap"]:.1f}%, {verdict} the 15% of the architecture note; {found["matched"]} of '
        f'{len(found["trades"])} trade(s) matched (same strikes, entered within a minute).</p>',
        f'<p class="muted">{escape(found["definition"])}. Expected: the simulator on this session\'s recorded bars, '
        f'chain {escape(str(market.get("chain", "")))} at ATM IV {escape(str(market.get("atm_iv", "")))} '
        "(fitted to the chains the session recorded).</p>",
        *([f'<p class="neg">expected trade(s) {", ".join(map(str, late))} closed after the recording ends '
           f'({hhmm(found["recorded_until"])}): past it the simulator holds the last recorded price.</p>']
          if (late := found["beyond_recording"]) else []),
        table("expectation", ["paper condor", "entry", "fill", "exit", "P&L", "expected condor", "entry", "fill",
                              "exit", "P&L", "matched"], rows, {4, 9}),
    ]


def _spot(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def timeline_table(rows: list[dict[str, Any]]) -> str:
    body = [
        [escape(r["state"]), hhmm(r["start"]), hhmm(r["end"]), escape(r["reason"]), "outage" if r["outage"] else ""]
        for r in rows
    ]
    return table("timeline", ["state", "from", "to", "why", ""], body)


def day_page(report: dict[str, Any], svgs: dict[str, str | None]) -> str:
    day = report["session_date"]
    if report["holiday"]:
        head = f"<h1>{day}: no session (weekend or holiday)</h1>"
        return page(f"zdte {day}", [head, '<p class="muted">Nothing was traded: the exchange was closed.</p>'])
    s = report["session"]
    spent = ", ".join(f"{k} {v / 60:.0f}m" for k, v in report["seconds_in_state"].items() if v >= 30)
    body = [
        f"<h1>zdte {escape(report.get('underlying', ''))} {day}: P&amp;L {money(report['total_pnl'])}</h1>",
        f'<p class="muted">session {hhmm(s["open"])}–{hhmm(s["close"])} ET; entries {hhmm(s["entry_start"])}–'
        f'{hhmm(s["entry_end"])}, hard exit {hhmm(s["hard_exit"])}; {report["trade_count"]} trade(s), '
        f'{report["wins"]} win(s), realized {money(report["realized_pnl"])}; stopped: '
        f'{escape(report["stopped"] or "")}; time in state (market hours): {escape(spent)}</p>',
        "<h2>Underlying</h2>",
        chart("underlying", svgs.get("underlying"), "no bars were recorded for this session"),
        "<h2>The condor through its life</h2>",
        chart("trades", svgs.get("trades"), "no trade was open, or no quotes were recorded for it"),
        "<h2>Trades</h2>",
        trades_table(report["trades"]) if report["trades"] else '<p class="muted">no trade today</p>',
        "<h2>Success metrics</h2>",
        metrics_table(report["metrics"]),
        *expectation_section(report.get("expectation")),
        "<h2>State timeline</h2>",
        chart("timeline", svgs.get("timeline"), "no state was recorded"),
        timeline_table(report["timeline"]),
    ]
    if report["open_at_end"]:
        body.insert(1, f'<p class="neg">STILL OPEN at the end: {len(report["open_at_end"])} spread(s)</p>')
    return page(f"zdte {day}", body)


def summary_page(summary: dict[str, Any], svgs: dict[str, str | None]) -> str:
    s = summary
    title = f"zdte {s['first_day']} .. {s['last_day']}"

    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{100 * v:.1f}%"

    def plain(v: float | None, fmt: str = ".2f") -> str:
        return "n/a" if v is None else format(v, fmt)

    worst = s["worst_day"] or {"day": "", "pnl": None}
    figures = [
        ["sessions", str(s["sessions"])],
        ["total P&L", money(s["total_pnl"])],
        ["max drawdown", money(s["max_drawdown"])],
        ["worst day", f"{worst['day']} {money(worst['pnl'])}"],
        ["trades", str(s["trades"])],
        ["trades per day", plain(s["trades_per_day"])],
        ["win rate", pct(s["win_rate"])],
        ["average credit", plain(s["average_credit"])],
        ["average P&L, % of max risk", plain(s["average_pnl_pct_of_risk"], "+.1f")],
        ["profit factor", plain(s["profit_factor"])],
        ["expectancy (P&L a trade)", money(s["expectancy"])],
        ["max consecutive losses", str(s["max_consecutive_losses"])],
        ["slippage against mid, a trade (cost)", cost(s["average_slippage"])],
    ]
    exits = [[escape(k), f"{v['count']:.0f}", money(v["pnl"])] for k, v in s["by_exit"].items()]
    days = [[d["day"], str(d["trades"]), money(d["pnl"]), escape(d["stopped"] or "")] for d in s["days"]]
    body = [
        f"<h1>{escape(title)}: total P&amp;L {money(s['total_pnl'])}</h1>",
        chart("equity", svgs.get("equity"), "no session"),
        "<h2>Figures</h2>",
        table("figures", ["figure", "value"], figures, {1}),
        "<h2>By exit reason</h2>",
        chart("exits", svgs.get("exits"), "no trade"),
        table("exits", ["exit", "trades", "P&L"], exits, {1, 2}),
        "<h2>Days</h2>",
        table("days", ["day", "trades", "P&L", "stopped"], days, {1, 2}),
    ]
    return page(title, body)
