"""config.yaml as validated pydantic models.

Everything is checked before anything runs: an unknown key (a typo) or an impossible value is an
error naming the key and the file. The Alpaca keys never come from YAML: only from the environment or `.env`.
An alert URL may (it holds its service's token), and is masked wherever the config is shown or journaled.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from engine.errors import ConfigError

SECRET_ENV_KEYS = ("ALPACA_API_KEY", "ALPACA_SECRET_KEY")
NOTIFY_URLS_ENV = "ZDTE_NOTIFY_URLS"


def _hhmm(value: object) -> object:
    """Times are quoted "HH:MM" strings; YAML reads an unquoted 10:00 as the number 600, which is refused."""
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", value.strip()):
        return value.strip()
    if isinstance(value, time):
        return value
    raise ValueError(f'write times as quoted "HH:MM" strings (got {value!r}; YAML reads an unquoted 10:00 as 600)')


HHMM = Annotated[time, BeforeValidator(_hhmm)]
Int = Annotated[int, Field(strict=True)]
Num = Annotated[float, Field(strict=True)]


class _YamlLoader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text, so pydantic validates them and names the key when one is wrong, and reads
    every key as text: YAML 1.1 takes a bare `on:` (notify.on) for the key True."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        for key, _ in node.value:
            if key.tag == "tag:yaml.org,2002:bool":
                key.tag = "tag:yaml.org,2002:str"
        return super().construct_mapping(node, deep)


_YamlLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionConfig(_Strict):
    date: dt.date | None = Field(None, description="first session date; None = today (Alpaca) or required (sim)")
    days: Int | Literal["forever"] = Field(
        1, description="consecutive sessions to trade, or forever (Alpaca: every session until stopped)"
    )

    @field_validator("days")
    @classmethod
    def _at_least_one(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError("must be at least 1, or forever")
        return v

    @property
    def forever(self) -> bool:
        return self.days == "forever"

    @property
    def count(self) -> int | None:
        """The sessions to run; None: no end."""
        return None if isinstance(self.days, str) else self.days


class SimConfig(_Strict):
    seed: Int = 7
    bars: Path | None = Field(
        None,
        description="the underlying's minute bars: a CSV (date,Open,High,Low,Close,Volume; ET), a LEAN minute "
        "trade zip, or a session's journal (audit-*.jsonl: the bars it recorded); None: found beside `quotes`, "
        "else a seeded random walk",
    )
    quotes: Path | None = Field(
        None,
        description="a LEAN minute option quote zip (the chain is the file's real bid/ask), or a session's journal "
        "(the quotes it recorded, in the minutes it recorded them; the model elsewhere); None: model-priced",
    )
    start_price: Num = Field(600.0, gt=0)
    annual_vol: Num = Field(0.14, gt=0, lt=3, description="realized volatility of the random walk")
    model: Path | None = Field(None, description="a model file written by `run.py calibrate`; its keys win")
    vol_source: Literal["fixed", "realized", "file"] = Field(
        "realized", description="where the ATM IV comes from: implied_vol, premium x trailing realized, or a file"
    )
    implied_vol: Num = Field(0.16, gt=0, lt=3, description="ATM IV (trading time) with vol_source fixed")
    vol_premium: Num = Field(
        1.0,
        gt=0,
        description="ATM IV over the trailing realized volatility (or the file); default from GOOG 2015-12-23: "
        "ATM IV 0.149 over its minute realized volatility 0.155 (0.96, one tuning day)",
    )
    vol_lookback_days: Int = Field(5, ge=1, description="earlier sessions whose minute bars give realized vol")
    vol_file: Path | None = Field(None, description="vol_source file: CSV date,value (e.g. VIX closes, in percent)")
    smile_skew_z: Num = Field(
        -0.09, description="IV change, as a share of ATM IV, per standard deviation of moneyness (GOOG 2015-12-23 fit)"
    )
    smile_curvature_z: Num = Field(0.03, ge=0, description="the same per squared standard deviation (GOOG 12-23)")
    late_rise: Num = Field(2.0, ge=0, description="extra variance rate at the close, 2.0: triple (GOOG 12-23 fit)")
    late_minutes: Num = Field(10.0, gt=0, description="trading minutes the late variance decays over (GOOG 12-23)")
    spread_base: Num = Field(0.01, ge=0, description="model bid-ask width at zero premium (SPY 2023-08-03: OTM 0.01)")
    spread_per_premium: Num = Field(
        0.03, ge=0, description="model width per dollar of premium (SPY 2023-08-03: ITM 0.46-0.65 at 18-22)"
    )
    spread_max: Num = Field(0.65, gt=0, description="model bid-ask width cap, dollars (SPY 2023-08-03 ITM)")
    spread_late: Num = Field(0.0, ge=0, description="extra width at the close, as a share")
    min_bid: Num = Field(0.0, ge=0, description="a model bid below this shows as no bid")
    chain_width: Int = Field(40, gt=0, description="model chain: strikes listed on each side of the open")
    rate: Num = Field(0.04, ge=0, lt=1)
    partial_fill_prob: Num = Field(0.0, ge=0, le=1)
    starting_cash: Num = Field(100_000.0, gt=0)


class InstrumentConfig(_Strict):
    """What the options on the underlying are: facts of the product, not of SPY."""

    root: str | None = Field(
        None, pattern=r"^[A-Z]{1,6}$", description="option root (SPXW on SPX); None: the underlying"
    )
    strike_step: Num = Field(1.0, gt=0, description="model chain: points between listed strikes")
    tick: Num = Field(0.01, gt=0, description="model chain: quote tick below 3.00")
    tick_above_3: Num = Field(0.01, gt=0, description="model chain: quote tick from 3.00 up")
    multiplier: Int = Field(100, ge=1, description="units of the underlying per contract")
    exercise: Literal["american", "european"] = "american"
    settlement: Literal["physical", "cash"] = Field(
        "physical", description="what happens to an option left open at the close: exercise or cash at intrinsic"
    )


class StrategyConfig(_Strict):
    kind: Literal["iron_condor", "iron_butterfly"] = Field(
        "iron_condor", description="iron_condor, or iron_butterfly (both short strikes at the money)"
    )
    direction: Literal["short", "long"] = "short"
    short_strike_rule: Literal["delta", "distance"] = "delta"
    short_delta: Num = Field(0.15, gt=0, lt=0.5)
    short_delta_tolerance: Num = Field(
        0.10,
        gt=0,
        description="a short strike's |delta| may miss short_delta by this much: on SPY's 1-point grid the nearest "
        "strike is always within it, while a wing-less grid cannot push the short in to the money",
    )
    short_distance: Num = Field(5.0, gt=0)
    wing_width: Num = Field(5.0, gt=0)
    contracts: Int = Field(1, ge=1)
    entry_start: HHMM = time(10, 0)
    entry_end: HHMM = time(14, 30)
    min_realized_vol: Num = Field(0.0, ge=0, description="volatility filter: annualized, from recent bars")
    max_realized_vol: Num = Field(0.60, gt=0)
    min_credit: Num = Field(0.10, ge=0, description="short condor: skip when the mid credit is below this")


class RiskConfig(_Strict):
    max_daily_trades: Int = Field(3, ge=0)
    max_open_spreads: Int = Field(1, ge=1)
    max_daily_loss: Num = Field(500.0, gt=0)
    target_daily_profit: Num = Field(250.0, gt=0)
    max_loss_per_trade: Num = Field(500.0, gt=0)
    profit_target_pct: Num = Field(0.5, gt=0, description="exit when this share of the max profit is made")
    spread_stop_pct: Num = Field(1.0, gt=0, description="exit when the loss reaches this multiple of the premium")
    max_entry_gap: Num = Field(
        0.5,
        gt=0,
        description="refuse an entry whose mid-to-natural gap exceeds this share of the spread stop's distance: "
        "filled at natural, the market must still move at least as far as the gap before the stop fires",
    )
    hard_exit: HHMM = time(15, 15)
    close_positions_on_shutdown: bool = True
    broker_outage_tolerance_s: Num = Field(120.0, gt=0, description="halt after broker errors for this long")
    kill_file: Path | None = Field(
        None, description="the kill switch: while this file exists nothing trades; None: KILL in logs_dir"
    )


class LogsConfig(_Strict):
    keep_days: Int | None = Field(
        None, ge=1, description="delete the logs folder's dated files (journals too) older than this; None: keep all"
    )


class DataConfig(_Strict):
    min_data_points: Int = Field(30, ge=2)
    lookback_minutes: Int = Field(60, ge=2)
    strike_discovery_range: Num = Field(10.0, gt=0)
    max_staleness_s: Num = Field(
        180.0, gt=0, description="no decision rests on a bar or an option quote older than this"
    )
    outage_tolerance_s: Num = Field(
        600.0, gt=0, description="halt when no bar or a held leg has no quote for longer than this"
    )
    source: Literal["stream", "poll"] | None = Field(
        None,
        description="stream (websockets, REST when a stream fails) or poll (REST only); default: stream on "
        "alpaca, poll on the embedded simulator (which answers every poll at once and has no streams)",
    )


class StreamConfig(_Strict):
    silence_s: Num = Field(
        90.0,
        gt=0,
        description="a data stream with no data for this long in market hours is silent: REST takes over until it "
        "delivers again (a minute bar is due every 60 s: 90 s is one missed bar and half a minute more)",
    )
    min_interval_s: Num = Field(
        0.5, ge=0, description="on a busy stream, one decision step per this many seconds at most (wall time)"
    )
    account_refresh_s: Num = Field(
        60.0,
        gt=0,
        description="while streaming, the account is asked this often; between two asks the loss limit moves "
        "with the streamed marks",
    )


class OrdersConfig(_Strict):
    client_order_id_prefix: str = Field("zdte", pattern=r"^[A-Za-z0-9]{1,12}$")
    tick: Num = Field(0.01, gt=0)
    max_walk_ticks: Int = Field(10, ge=0)
    walk_interval_s: Num = Field(10.0, gt=0)
    entry_timeout_s: Num = Field(180.0, gt=0)
    exit_extra_ticks: Int = Field(5, ge=0, description="exits may walk this many ticks past the natural price")


class PollConfig(_Strict):
    awaiting_open: Num = Field(60.0, gt=0)
    scanning: Num = Field(60.0, gt=0)
    entering: Num = Field(5.0, gt=0)
    monitoring: Num = Field(30.0, gt=0)
    halted: Num = Field(30.0, gt=0)


class AlpacaConfig(_Strict):
    trading_url: str | None = Field(None, description="url_override of TradingClient")
    data_url: str | None = Field(None, description="url_override of the data clients")
    feed: Literal["iex", "sip"] = "iex"
    options_feed: Literal["indicative", "opra"] = Field(
        "indicative",
        description="option quotes: indicative (free; derived from OPRA, trades 15 min late) or opra (subscription)",
    )
    timeout_s: Num = Field(10.0, gt=0)
    max_retries: Int = Field(4, ge=0)


class JournalConfig(_Strict):
    record_inputs: bool = Field(True, description="record every port call, so the session can be replayed")


class ReportConfig(_Strict):
    html: bool = Field(True, description="after each session, report-YYYYMMDD.html (charts inline SVG) beside the JSON")
    png: bool = Field(False, description="with html, each chart also as report-YYYYMMDD-<chart>.png (matplotlib)")
    status_interval_s: Num = Field(
        300.0, ge=0, description="while a position is open, a status line this often (market time); 0: none"
    )


NotifyEvent = Literal["start", "fill", "exit", "halt", "resume", "error", "startup_failure", "day_summary"]
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = get_args(NotifyEvent)


class NotifyConfig(_Strict):
    """Alerts through apprise. A URL holds its service's token, so it is a SecretStr: masked in every repr and in the
    journal header's copy of the config, and read back only where the alert is sent."""

    urls: tuple[SecretStr, ...] = Field(
        (),
        description=f"apprise URLs (tgram://, slack://, ntfy://, json://, mailto://...); none: no alerts; "
        f"{NOTIFY_URLS_ENV} in the environment or .env replaces them",
    )
    on: tuple[NotifyEvent, ...] = Field(NOTIFY_EVENTS, description="the events that send an alert")
    timeout_s: Num = Field(10.0, gt=0, description="the most one attempt to send an alert may take")
    retries: Int = Field(3, ge=0, description="attempts after a failed one, after 1, 2, 4... seconds")


class Config(_Strict):
    broker: Literal["sim", "alpaca"] = "sim"
    underlying: str = Field("SPY", pattern=r"^[A-Z]{1,6}$")
    logs_dir: Path = Field(Path("logs"), description="journals, logs and reports; relative to the config file")
    logs: LogsConfig = LogsConfig()
    instrument: InstrumentConfig = InstrumentConfig()
    session: SessionConfig = SessionConfig()
    sim: SimConfig = SimConfig()
    strategy: StrategyConfig = StrategyConfig()
    risk: RiskConfig = RiskConfig()
    data: DataConfig = DataConfig()
    orders: OrdersConfig = OrdersConfig()
    poll: PollConfig = PollConfig()
    stream: StreamConfig = StreamConfig()
    alpaca: AlpacaConfig = AlpacaConfig()
    journal: JournalConfig = JournalConfig()
    report: ReportConfig = ReportConfig()
    notify: NotifyConfig = NotifyConfig()

    @property
    def kill_file(self) -> Path:
        """The kill switch's file: the configured one, else KILL beside the logs (so --logs-dir moves it too)."""
        return self.risk.kill_file or self.logs_dir / "KILL"

    @property
    def streams(self) -> bool:
        """Market data and order updates come by websocket (data.source, or its default for the broker)."""
        return (self.data.source or ("stream" if self.broker == "alpaca" else "poll")) == "stream"

    @model_validator(mode="after")
    def _coherent(self) -> Config:
        s, r = self.strategy, self.risk
        if s.entry_start >= s.entry_end:
            raise ValueError("strategy.entry_start must be before strategy.entry_end")
        if s.entry_end >= r.hard_exit:
            raise ValueError("strategy.entry_end must be before risk.hard_exit")
        if s.min_realized_vol >= s.max_realized_vol:
            raise ValueError("strategy.min_realized_vol must be below strategy.max_realized_vol")
        if self.data.lookback_minutes < self.data.min_data_points:
            raise ValueError("data.lookback_minutes must be at least data.min_data_points")
        if self.sim.quotes is not None and self.session.days != 1:
            raise ValueError("session.days must be 1 with sim.quotes: a quote file or journal holds one day")
        if self.broker == "sim" and self.data.source == "stream":
            raise ValueError(
                "data.source: stream needs broker alpaca (the embedded simulator has no streams; serve-sim speaks "
                "them over loopback)"
            )
        if self.broker == "sim" and self.session.forever:
            raise ValueError(
                "session.days: forever never ends a simulated run (its days pass in a second each): bound it with "
                "--days N, or trade forever with broker alpaca"
            )
        return self


MODEL_KEYS = (
    "vol_source",
    "implied_vol",
    "vol_premium",
    "vol_lookback_days",
    "smile_skew_z",
    "smile_curvature_z",
    "late_rise",
    "late_minutes",
    "spread_base",
    "spread_per_premium",
    "spread_max",
    "spread_late",
    "min_bid",
)
"""The keys of `sim` a model file may set."""


def load_model_file(path: Path) -> dict[str, Any]:
    """The `model:` mapping of a file written by `run.py calibrate`; ConfigError naming the file and key."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_YamlLoader)  # noqa: S506 - a SafeLoader subclass
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read model file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML: {exc}") from None
    model = raw.get("model") if isinstance(raw, dict) else None
    if not isinstance(model, dict):
        raise ConfigError(f"{path}: a model file holds a 'model:' mapping of sim keys")
    unknown = sorted(set(model) - set(MODEL_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown model key(s) {', '.join(unknown)}; allowed: {', '.join(MODEL_KEYS)}")
    return model


def _location(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def parse_config(raw: object, source: str) -> Config:
    """Validate an already-parsed mapping; `source` names where it came from in error messages."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys, got {type(raw).__name__}")
    sim = raw.get("sim")
    if isinstance(sim, dict) and sim.get("model"):
        raw = {**raw, "sim": {**sim, **load_model_file(Path(sim["model"]))}}
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = _location(err["loc"])
            if err["type"] == "extra_forbidden":
                lines.append(f"{source}: unknown key '{where}'")
            else:
                lines.append(f"{source}: {where}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    try:
        raw = yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: malformed YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return parse_config(_beside(raw, path.parent), str(path))


FILE_KEYS = (("logs_dir",), ("sim", "bars"), ("sim", "quotes"), ("sim", "model"), ("sim", "vol_file"),
             ("risk", "kill_file"))
"""Config keys naming files or folders: relative ones are read from where the config file is, not from the
working directory, so a config means the same wherever it is run from."""


def _beside(raw: Any, base: Path) -> Any:
    if not isinstance(raw, dict):
        return raw
    out = copy.deepcopy(raw)
    for *sections, key in FILE_KEYS:
        node: Any = out
        for part in sections:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(key), str) and node[key]:
            value = Path(node[key]).expanduser()
            node[key] = str(value if value.is_absolute() else base / value)
    return out


def load_secrets(env_file: str | Path | None = ".env") -> dict[str, str]:
    """Keys from the environment, falling back to `.env`; never logged, never journaled."""
    from dotenv import dotenv_values

    found = {k: os.environ[k] for k in SECRET_ENV_KEYS if os.environ.get(k)}
    if env_file and Path(env_file).is_file():
        for k, v in dotenv_values(env_file).items():
            if k in SECRET_ENV_KEYS and v and k not in found:
                found[k] = v
    return found


def notify_urls(cfg: NotifyConfig, env_file: str | Path | None = ".env") -> list[str]:
    """The alert URLs: ZDTE_NOTIFY_URLS (the environment's when set there, even empty; else `.env`'s) instead of the
    config's when it holds any, so a token can stay out of the YAML as the Alpaca keys do. Split as apprise splits
    its own lists: at commas and whitespace before a URL, not at a comma inside one (mailto://...?to=a@x,b@x)."""
    from dotenv import dotenv_values

    text = os.environ.get(NOTIFY_URLS_ENV)
    if text is None and env_file and Path(env_file).is_file():
        text = dotenv_values(env_file).get(NOTIFY_URLS_ENV)
    if text and text.strip():
        from apprise.utils.parse import parse_urls  # apprise only for a run that has URLs to split

        return list(parse_urls(text))
    return [u.get_secret_value() for u in cfg.urls]
