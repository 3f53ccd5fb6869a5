"""Deterministic sample events for the sample plant, with injected faults.

`generate(start)` returns events in the DESIGN.md JSON-lines shape. Clean
signals follow small alternating patterns (plus a little seeded noise that
can never flip their sign), so no rule can fire on them by chance: the only
findings are the injected faults listed in EXPECTED, whatever the seed, and
each planted fault is exactly one finding. One module: the faults injected
and EXPECTED must be read side by side.

Besides the four hours of the lines, the utilities have the longer histories
that real processes need to be judged on (all ending where the lines end):
two chillers over five days, with a daily load cycle and an hourly defrost
that are normal; two bearings over a day, drifting with wear; a tank whose
level sits at its limit; a mixer that stopped reporting 90 minutes ago.
The CI streams include GitHub Actions runs as the webhook stores them
(sentinel/sample/runs.py), with a hung, an incomplete and a slow run.

    python -m sentinel.sample.generate OUT.jsonl [--start ISO] [--seed N] [--minutes N]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, NamedTuple

from sentinel.sample import runs

PRESS = "plant-a/line-1/press-{}"
OVEN = "plant-a/line-2/oven-{}"
COMPRESSOR = "plant-a/line-2/compressor-1"
MAIN_BUILD = "ci/main-build"
NIGHTLY = "ci/nightly"
CHILLER = "plant-a/utility/chiller-{}"
BEARING = "plant-a/line-3/bearing-{}"
TANK = "plant-a/utility/tank-1"
MIXER = "plant-a/line-3/mixer-1"

# Clean streams: nothing may fire on them. chiller-1 has a daily cycle and an
# hourly defrost spike, bearing-1 drifts: normal operation that fixed limits
# or a frozen baseline would report all day.
CLEAN_STREAMS: Final = (PRESS.format(1), OVEN.format(1), CHILLER.format(1), BEARING.format(1))
STREAMS: Final = (
    *(PRESS.format(n) for n in (1, 2, 3)),
    *(OVEN.format(n) for n in (1, 2)),
    COMPRESSOR,
    MAIN_BUILD,
    NIGHTLY,
    *(CHILLER.format(n) for n in (1, 2)),
    *(BEARING.format(n) for n in (1, 2)),
    TANK,
    MIXER,
    *runs.STREAMS,
)


class Fault(NamedTuple):
    """What was planted for a (rule, stream) pair, and how many findings
    it must give: one per planted fault."""

    what: str
    findings: int = 1


# (rule ref, stream) -> the faults injected for it. The engine must find
# exactly these pairs on generate()'s events, each with exactly `findings`
# findings (tests/unit/test_sample.py).
EXPECTED: Final[dict[tuple[str, str], Fault]] = {
    ("press.overtemp", PRESS.format(2)): Fault(
        "temperature ramps to 88 °C and wavers 83–88 (one episode)"
    ),
    ("press.stuck_pressure", PRESS.format(2)): Fault(
        "pressure frozen at 118.4 bar for 21 readings"
    ),
    ("press.telemetry_silence", PRESS.format(2)): Fault("26-minute gap in measurements"),
    ("press.alarm_burst", PRESS.format(2)): Fault("four high alarms in six minutes"),
    ("press.low_pressure", PRESS.format(3)): Fault(
        "pressure below 100 bar for 8 minutes (a 2-minute dip is ignored)"
    ),
    ("press.cycle_spc", PRESS.format(3)): Fault(
        "two excursions: a cycle-time spike (WE1), later a sustained shift (WE4)", findings=2
    ),
    ("press.temp_rate", PRESS.format(3)): Fault("quench: temperature falls 5 °C/min for 4 minutes"),
    ("press.fault_code", PRESS.format(3)): Fault("hydraulics alarm E101"),
    ("oven.zone_spc", OVEN.format(2)): Fault(
        "two excursions: a zone spike to 186.5 °C (WE1), later two of three above 2σ (WE2)",
        findings=2,
    ),
    ("oven.fan_stalled", OVEN.format(2)): Fault("fan speed frozen within 0.5 rpm for 15 minutes"),
    ("oven.door_open_hot", OVEN.format(2)): Fault("door opened at 180 °C"),
    ("compressor.discharge_high", COMPRESSOR): Fault(
        "discharge above 9.5 bar for 6 minutes (a 1-minute spike is ignored)"
    ),
    ("compressor.current_surge", COMPRESSOR): Fault("motor current jumps 40 → 58 A in a minute"),
    ("compressor.trip", COMPRESSOR): Fault("stopped on overload"),
    ("ci.main_failed", MAIN_BUILD): Fault("two failing main builds", findings=2),
    ("ci.coverage_drop", MAIN_BUILD): Fault("coverage drops to 64.2 %"),
    ("ci.unknown_status", MAIN_BUILD): Fault("a build ends with status 'timeout'"),
    ("ci.flaky_tests", MAIN_BUILD): Fault("three builds tagged flaky within 30 minutes"),
    ("ci.nightly_missing", NIGHTLY): Fault("no nightly build for 90 minutes"),
    ("ci.security_findings", NIGHTLY): Fault("security job reports 3 findings"),
    ("ci.release_failed", NIGHTLY): Fault("release/2.3 build failed"),
    ("ci.build_duration", NIGHTLY): Fault("a 40-minute build"),
    ("chiller.supply_profile", CHILLER.format(2)): Fault(
        "supply 2.5 °C above its usual for that time of day for 90 minutes (lost capacity),"
        " on a process with a daily cycle and an hourly defrost"
    ),
    ("bearing.temp_shift", BEARING.format(2)): Fault(
        "a sustained 1.3 °C (about 3σ) shift for 45 minutes on a bearing drifting with wear"
    ),
    ("tank.level_high", TANK): Fault("level chattering around its 90 % limit for 40 minutes"),
    ("mixer.telemetry_silence", MIXER): Fault("the mixer stopped reporting 90 minutes ago"),
    # GitHub Actions runs (sentinel/sample/runs.py): one hung, one incomplete, one slow.
    **{pair: Fault(what) for pair, what in runs.EXPECTED_RUNS.items()},
}

Event = dict[str, Any]


def _wave(pattern: tuple[float, ...]) -> Callable[[int], float]:
    """An alternating offset: consecutive values always differ in sign."""
    return lambda i: pattern[i % len(pattern)]


TEMP = _wave((0.4, -0.3, 0.2, -0.4, 0.3, -0.2))
PRESSURE = _wave((0.6, -0.4, 0.3, -0.5))
CYCLE = _wave((4.0, -3.0, 2.0, -5.0, 3.0, -2.0))
ZONE = _wave((0.5, -0.4, 0.3, -0.6))
FAN = _wave((3.0, -2.0, 4.0, -3.0))
SUPPLY = _wave((0.4, -0.3, 0.2, -0.4, 0.3, -0.2))
LEVEL = _wave((0.5, -0.6, 0.4, -0.5))
DISCHARGE = _wave((0.1, -0.1, 0.05, -0.08))
CURRENT = _wave((0.5, -0.4, 0.3, -0.6))


class _Builder:
    def __init__(self, start: datetime, rng: random.Random) -> None:
        self.start = start
        self.rng = rng
        self.events: list[Event] = []
        self.counters: dict[str, int] = {}

    def noise(self, size: float) -> float:
        return self.rng.uniform(-size, size)

    def add(self, source: str, stream: str, kind: str, seconds: float, payload: Event) -> None:
        n = self.counters[stream] = self.counters.get(stream, 0) + 1
        at = self.start + timedelta(seconds=seconds)
        slug = stream.replace("/", "-")
        self.events.append(
            {
                "source": source,
                "stream": stream,
                "kind": kind,
                "occurred_at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "external_id": f"{source}-{slug}-{n:06d}",
                "payload": payload,
            }
        )


def recent_start(minutes: int = 240, now: datetime | None = None) -> datetime:
    """The start of a history that ends now (to the minute). Silence is judged
    on the devices' clock: a history that ended long ago is a plant whose
    devices all went quiet, and every silence rule would say so."""
    end = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    return end - timedelta(minutes=minutes)


def generate(start: datetime, *, seed: int = 7, minutes: int = 240) -> list[Event]:
    """The sample plant's events from `start` for `minutes` (faults assume 240)."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    b = _Builder(start, random.Random(seed))
    for n in (1, 2, 3):
        _press(b, n, minutes)
    for n in (1, 2):
        _oven(b, n, minutes)
    _compressor(b, minutes)
    _ci(b, minutes)
    end = start + timedelta(minutes=minutes)
    for n in (1, 2):
        _chiller(b, n, end)
        _bearing(b, n, end)
    _tank(b, minutes)
    _mixer(b, minutes)
    if minutes >= runs.MIN_MINUTES:
        b.events += runs.generate_runs(start, seed=seed, minutes=minutes)
    b.events.sort(key=lambda e: (e["occurred_at"], e["stream"], e["external_id"]))
    return b.events


def _press(b: _Builder, n: int, minutes: int) -> None:
    stream = PRESS.format(n)
    for m in range(minutes):
        if n == 2 and 180 <= m < 205:
            continue  # gateway dropout: press.telemetry_silence
        temperature = 75.0 + TEMP(m) + b.noise(0.05)
        pressure = 120.0 + PRESSURE(m) + b.noise(0.05)
        cycle = 1200.0 + CYCLE(m) + b.noise(0.3)
        if n == 2:
            temperature = _press2_temperature(m, temperature)
            if 60 <= m <= 80:
                pressure = 118.4  # stuck transmitter
        if n == 3:
            if m in (40, 41) or 170 <= m < 178:
                pressure = 96.5 + PRESSURE(m)  # a dip (ignored), then a sustained low
            if m == 120:
                cycle += 45.0  # one point far beyond 3σ
            if 150 <= m < 162:
                cycle += 9.0  # a shift: 8+ in a row above the centre
            if 200 <= m < 205:
                temperature = 75.0 - 5.0 * (m - 200)  # quench
            elif 205 <= m < 225:
                temperature = 55.0 + (m - 204) + TEMP(m)  # slow recovery, 1 °C/min
        b.add(
            "plc-gw",
            stream,
            "measurement",
            m * 60,
            {
                "temperature_c": round(temperature, 2),
                "pressure_bar": round(pressure, 2),
                "cycle_ms": round(cycle, 1),
            },
        )
    alarms: list[tuple[int, dict[str, Any]]] = []
    if n == 1:
        alarms = [(100, {"code": "I001", "level": "low", "area": "feeder", "text": "lubricate"})]
    if n == 2:
        alarms = [
            (150 + 2 * k, {"code": f"W21{k}", "level": "high", "area": "die", "text": "die temp"})
            for k in range(4)
        ]
    if n == 3:
        alarms = [
            (60, {"code": "E101", "level": "high", "area": "hydraulics", "text": "oil level low"}),
            (90, {"code": "E20", "level": "low", "area": "die", "text": "short code: no match"}),
        ]
    for minute, payload in alarms:
        b.add("plc-gw", stream, "alarm", minute * 60 + 20, payload)


def _press2_temperature(m: int, clean: float) -> float:
    if 90 <= m < 105:
        return 75.0 + (m - 90) * 0.93  # gentle ramp to 88 (under the rate limit)
    if 105 <= m < 125:
        return (88.0, 83.0, 87.0, 83.5, 86.0, 84.0)[(m - 105) % 6]  # wavers, never below 82
    if 125 <= m < 140:
        return 84.0 - (m - 125) * 0.6
    return clean


def _oven(b: _Builder, n: int, minutes: int) -> None:
    stream = OVEN.format(n)
    for m in range(minutes):
        zone = 180.0 + ZONE(m) + b.noise(0.05)
        fan = 1450.0 + FAN(m) + b.noise(0.2)
        if n == 2:
            if m == 80:
                zone = 186.5
            if m in (140, 141):
                zone = 183.6 + 0.2 * (m - 140)
            if 160 <= m <= 175:
                fan = 1450.0 + (0.2 if m % 2 else 0.0)
        payload = {"zone_temp_c": round(zone, 2), "fan_rpm": round(fan, 1), "setpoint_c": 180}
        b.add("plc-gw", stream, "measurement", m * 60, payload)
    state = "open" if n == 2 else "closed"
    b.add("plc-gw", stream, "door", 100 * 60 + 30, {"state": state, "zone_temp_c": 180.2})


def _compressor(b: _Builder, minutes: int) -> None:
    for i in range(minutes * 2):
        m = i / 2
        discharge = 8.2 + DISCHARGE(i) + b.noise(0.01)
        current = 40.0 + CURRENT(i) + b.noise(0.05)
        if 60 <= m <= 61:
            discharge = 9.7  # one minute above the limit: below the 2 m on-delay
        if 120 <= m <= 126:
            discharge = 9.8 + DISCHARGE(i) / 2
        if m == 180:
            current = 52.0
        if 180.5 <= m <= 182.5:
            current = 58.0 + CURRENT(i) / 4
        payload = {"discharge_bar": round(discharge, 3), "motor_current_a": round(current, 2)}
        b.add("plc-gw", COMPRESSOR, "measurement", m * 60, payload)
    for minute, state in (
        (30, {"running": False, "reason": "scheduled"}),
        (35, {"running": True}),
        (200, {"running": False, "reason": "overload"}),
        (205, {"running": True}),
    ):
        b.add("plc-gw", COMPRESSOR, "state", minute * 60 + 10, state)


def _ci(b: _Builder, minutes: int) -> None:
    url = "https://ci.example.com/{}/{}"
    for k, m in enumerate(range(5, minutes, 10)):
        payload: dict[str, Any] = {
            "branch": "main",
            "job": "build",
            "status": "passed",
            "duration_s": 600 + (k * 37) % 300,
            "coverage": round(82.0 + (k % 5) * 0.3, 1),
            "commit": f"{(k * 2654435761) % 16**7:07x}",
            "url": url.format("main-build", 1000 + k),
            "tags": [],
        }
        if m in (55, 135):
            payload["status"] = "failed" if m == 55 else "error"
        if m == 95:
            payload["coverage"] = 64.2
        if m == 175:
            payload["status"] = "timeout"
        if m in (205, 215, 225):
            payload["tags"] = ["flaky", "retried"]
        b.add("ci", MAIN_BUILD, "build", m * 60, payload)
    # every 20 minutes, but none between 60 and 150: ci.nightly_missing
    nightly = sorted({m for m in range(0, minutes, 20) if not 60 < m < 150} | {150})
    for k, m in enumerate(nightly):
        security = k % 2 == 1
        payload = {
            "branch": "main",
            "job": "nightly-security" if security else "nightly",
            "status": "passed",
            "duration_s": 900 + (k * 53) % 200,
            "url": url.format("nightly", 500 + k),
            "tags": [],
        }
        if security:
            payload["findings"] = 3 if m == 160 else 0
        if m == 180:
            payload.update(branch="release/2.3", status="failed")
        if m == 200:
            payload["duration_s"] = 2400
        b.add("ci", NIGHTLY, "build", m * 60, payload)


def _samples(end: datetime, span: timedelta, every: int) -> Iterable[tuple[int, datetime]]:
    """(index, time) of samples every `every` seconds on the wall-clock grid
    (so a time of day is the same sample every day), over `span` before `end`."""
    first = int((end - span).timestamp()) // every * every + every
    last = int(end.timestamp())
    for i, epoch in enumerate(range(first, last, every)):
        yield i, datetime.fromtimestamp(epoch, UTC)


def _chiller(b: _Builder, n: int, end: datetime) -> None:
    """Five days every 5 minutes. Normal: a daily load cycle (warmest in the
    afternoon) and a 10-minute defrost at the top of every hour; chiller-2
    loses capacity for 90 minutes on the last day."""
    stream = CHILLER.format(n)
    fault = (end - timedelta(hours=4), end - timedelta(hours=2, minutes=30))
    for i, at in _samples(end, timedelta(days=5), 300):
        day = (at.hour * 3600 + at.minute * 60) / 86_400
        supply = 7.0 + 1.5 * math.sin(2 * math.pi * (day - 0.375)) + SUPPLY(i) + b.noise(0.03)
        if at.minute < 10:
            supply += 2.0  # defrost
        if n == 2 and fault[0] <= at < fault[1]:
            supply += 2.5
        payload = {"supply_temp_c": round(supply, 2), "return_temp_c": round(supply + 5.0, 2)}
        b.add("bms", stream, "measurement", (at - b.start).total_seconds(), payload)


def _bearing(b: _Builder, n: int, end: datetime) -> None:
    """A day every minute, warming 2 °C with wear; bearing-2 runs 1.3 °C
    hotter (about 3σ) for 45 minutes six hours before the end."""
    stream = BEARING.format(n)
    span = timedelta(days=1)
    fault = (end - timedelta(hours=6), end - timedelta(hours=5, minutes=15))
    for i, at in _samples(end, span, 60):
        worn = 2.0 * (at - (end - span)) / span
        temperature = 58.0 + worn + TEMP(i) + b.noise(0.03)
        if n == 2 and fault[0] <= at < fault[1]:
            temperature += 1.3
        payload = {"bearing_temp_c": round(temperature, 2), "speed_rpm": 1480}
        b.add("plc-gw", stream, "measurement", (at - b.start).total_seconds(), payload)


def _tank(b: _Builder, minutes: int) -> None:
    for m in range(minutes):
        level = 84.0 + LEVEL(m) + b.noise(0.05)
        if 100 <= m < 140:
            level = 90.0 + LEVEL(m) + b.noise(0.05)  # at the limit: the reading chatters
        b.add("bms", TANK, "measurement", m * 60, {"level_pct": round(level, 2)})


def _mixer(b: _Builder, minutes: int) -> None:
    for m in range(minutes - 90):  # stopped reporting 90 minutes before the end
        payload = {"torque_nm": round(310.0 + CURRENT(m) + b.noise(0.05), 2), "speed_rpm": 60}
        b.add("plc-gw", MIXER, "measurement", m * 60, payload)


def write_jsonl(path: str | Path, events: Iterable[Event]) -> int:
    """Write one JSON event a line; returns how many."""
    count = 0
    with Path(path).open("w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    return command(argv, __doc__, generate, minutes=240)


def command(
    argv: list[str] | None,
    doc: str | None,
    make: Callable[..., list[Event]],
    *,
    minutes: int,
) -> int:
    """`python -m` for a sample generator: `make(start, seed=, minutes=)`
    written as JSON lines to a file or stdout."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("out", help="the JSON-lines file to write ('-' for stdout)")
    parser.add_argument("--start", help="ISO start time (UTC); default: the history ends now")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--minutes", type=int, default=minutes)
    args = parser.parse_args(argv)
    start = (
        datetime.fromisoformat(args.start.replace("Z", "+00:00"))
        if args.start
        else recent_start(args.minutes)
    )
    events = make(start, seed=args.seed, minutes=args.minutes)
    if args.out == "-":
        for event in events:
            sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
        return 0
    count = write_jsonl(args.out, events)
    print(f"wrote {count} events to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
