"""SGLang's ``Prefill batch`` / ``Decode batch`` scheduler lines, every dialect, as typed records.

Pure and stdlib only. A line becomes a :class:`SchedulerStats` (or ``None``); nothing here raises.
The body is read as ``key: value`` pairs split on ``", "`` -- never by position -- because the
fields, their order and the punctuation moved between releases (reference §1.2-1.3):

* older releases: ``[T TP0] Prefill batch. …, cache hit rate: 12.50%, …`` (rank tag, no trailing
  separator),
* 0.4.10: ``[T] Prefill batch. …, #queue-req: 0, `` (trailing ``", "``),
* 0.5.4: ``Prefill batch [12], …`` (iteration counter),
* 0.5.23: ``Prefill batch, …, cuda graph: False, input throughput (token/s): 0.00`` (comma head),
* SWA / Mamba / speculative / PD variants, and ``[T.mmm]`` timestamps (``SGLANG_LOG_MS``).

>>> r = parse_sglang_batch_line("[2025-07-28 04:59:51] Decode batch. #running-req: 3, #token: 64, "
...     "token usage: 0.01, cuda graph: False, gen throughput (token/s): 5.96, #queue-req: 0, ")
>>> (r.kind, r.running_req, r.num_token, r.token_usage, r.gen_throughput, r.cuda_graph)
('decode', 3, 64, 0.01, 5.96, False)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

__all__ = [
    "BodyLayouts",
    "SchedulerStats",
    "parse_sglang_batch_line",
    "parse_sglang_timestamp",
    "percent_to_fraction",
]


@dataclass(slots=True)
class SchedulerStats:
    """One scheduler stats line: an SGLang prefill or decode batch, or vLLM's periodic line.

    ``kind`` is ``"prefill"``, ``"decode"`` or ``"vllm"``; ``raw`` holds every ``key: value`` as
    logged (unknown keys included); the typed fields follow SGLang's keys in snake case and are
    ``None`` where the line does not carry them. Fractions (``token_usage``, ``cache_hit_rate``)
    are 0-1 even where the log prints a percentage. Treat it as read-only (it is not frozen
    only because frozen dataclasses construct ~5x slower, and logs are parsed by the million).
    """

    kind: str
    timestamp: datetime | None
    raw: Mapping[str, str] = field(default_factory=dict)
    new_seq: int | None = None
    new_token: int | None = None
    cached_token: int | None = None
    token_usage: float | None = None
    running_req: int | None = None
    queue_req: int | None = None
    num_token: int | None = None
    gen_throughput: float | None = None
    input_throughput: float | None = None
    prompt_throughput: float | None = None
    cache_hit_rate: float | None = None
    cuda_graph: bool | None = None
    accept_len: float | None = None
    accept_rate: float | None = None
    full_token_usage: float | None = None
    swa_token_usage: float | None = None
    mamba_usage: float | None = None
    gpu_token_usage: float | None = None
    cpu_token_usage: float | None = None
    iteration: int | None = None
    source: str = ""  # rank tags ("TP0", "DP1 TP0") or vLLM's engine head ("Engine 000")


def percent_to_fraction(text: str) -> float:
    """``"12.50%"`` -> ``0.125`` (rounded to 6 places so a logged value maps to one float)."""
    return round(float(text.rstrip("%")) / 100.0, 6)


_BOOLS = {"True": True, "False": False}


# SGLang key -> (record field, converter). Fallback keys (SWA/Mamba "full token usage",
# "#full token") only fill a field the plain key did not.
_KEYS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "#new-seq": ("new_seq", int),
    "#new-token": ("new_token", int),
    "#cached-token": ("cached_token", int),
    "token usage": ("token_usage", float),
    "#running-req": ("running_req", int),
    "#queue-req": ("queue_req", int),
    "#token": ("num_token", int),
    "gen throughput (token/s)": ("gen_throughput", float),
    "input throughput (token/s)": ("input_throughput", float),
    "cache hit rate": ("cache_hit_rate", percent_to_fraction),
    "accept len": ("accept_len", float),  # speculative decoding
    "accept rate": ("accept_rate", float),
    "full token usage": ("full_token_usage", float),  # SWA / Mamba hybrids
    "swa token usage": ("swa_token_usage", float),
    "mamba usage": ("mamba_usage", float),
    "gpu token usage": ("gpu_token_usage", float),  # HiSparse (0.5.x)
    "cpu token usage": ("cpu_token_usage", float),
}
# Keys that stand in for a plain one the line lacks (SWA/Mamba "full token usage", HiSparse
# "gpu token usage"): they only fill a field the plain key did not.
_FALLBACK_KEYS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "full token usage": ("token_usage", float),
    "#full token": ("num_token", int),
    "gpu token usage": ("token_usage", float),
    "#gpu token": ("num_token", int),
}

_PREFIX = re.compile(
    r"\[(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:[.,](\d{1,6}))?((?: [A-Za-z_]+\d+)*)\] ?$"
)
_HEAD_ITERATION = re.compile(r" \[(\d+)\]")


# Lines logged in the same second share their prefix: remember the last few conversions.
_PREFIX_CACHE: dict[str, tuple[datetime | None, str]] = {}
_PREFIX_CACHE_SIZE = 256


def parse_sglang_timestamp(prefix: str) -> tuple[datetime | None, str]:
    """Read ``[2025-07-28 04:59:51.123 DP0 TP1] `` at the end of ``prefix``: (time, rank tags).

    Returns ``(None, "")`` when the prefix is not SGLang's (a custom logging config, say).
    """
    cached = _PREFIX_CACHE.get(prefix)
    if cached is not None:
        return cached
    result = _convert_prefix(prefix)
    if len(_PREFIX_CACHE) >= _PREFIX_CACHE_SIZE:
        _PREFIX_CACHE.clear()
    _PREFIX_CACHE[prefix] = result
    return result


def _convert_prefix(prefix: str) -> tuple[datetime | None, str]:
    match = _PREFIX.search(prefix)
    if match is None:
        return None, ""
    year, month, day, hour, minute, second, fraction, ranks = match.groups()
    micro = int(fraction.ljust(6, "0")) if fraction else 0
    try:
        when = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
    except ValueError:  # "2025-13-45": not a date, so not a timestamp
        return None, ""
    return when, ranks.strip() if ranks else ""


def split_pairs(body: str) -> dict[str, str]:
    """``"a: 1, b c: 2"`` -> ``{"a": "1", "b c": "2"}``; split on the last ``": "`` of each part."""
    pairs: dict[str, str] = {}
    for part in body.split(", "):
        key, sep, value = part.rpartition(": ")
        if sep:
            pairs[key] = value
        elif part.strip():
            pairs[part.strip()] = ""
    return pairs


# SchedulerStats' fields in order: records are built positionally, which costs half what keyword
# arguments do on the hot path. The typed fields sit between ``raw`` and ``iteration``.
_FIELD_NAMES = tuple(f.name for f in fields(SchedulerStats))
POSITION = {name: index for index, name in enumerate(_FIELD_NAMES)}
_UNSET_TYPED = (None,) * (len(_FIELD_NAMES) - 5)
assert _FIELD_NAMES[:3] == ("kind", "timestamp", "raw")
assert _FIELD_NAMES[-2:] == ("iteration", "source")

# A typed field a body layout fills: (index of its value in the body, position among
# SchedulerStats' fields, converter). A converter raises ValueError (or KeyError, for a lookup
# table's ``__getitem__``) for text it does not take.
FieldSpec = tuple[int, int, Callable[[str], Any]]


@dataclass(frozen=True, slots=True)
class _Layout:
    """One body shape: its keys in order, a regex that reads the values of a body with exactly
    those keys, and the typed fields those values fill."""

    keys: tuple[str, ...]
    pattern: re.Pattern[str]
    fields: tuple[FieldSpec, ...]


# A layout's value has no "," and no ":", and neither has a layout's key: then a body the
# layout's regex matches splits into the same pairs under :func:`split_pairs`.
_VALUE = "([^,:]*)"


class BodyLayouts:
    """The ``key: value, …`` body shapes a log has shown, each read by one compiled regex.

    A server logs the same few shapes over and over (its prefill line, its decode line) with only
    the values changing. :meth:`record` tries the shapes learned so far -- one regex match and a
    loop over the typed fields, instead of a Python loop over every part -- and returns None when
    none fits; the caller then reads the body the careful way and hands its keys to :meth:`learn`.
    A shape is compiled on its second sighting, so a stream of one-off garbage compiles nothing.
    A value that a converter rejects also sends the body down the careful path, so a record never
    depends on which path read it. Bounded; safe to share between threads (a race can at worst
    compile a shape twice).
    """

    _MAX_SHAPES = 64  # learned shapes, and shapes seen once, kept before starting over

    def __init__(self, fields_for: Callable[[tuple[str, ...]], tuple[FieldSpec, ...]]) -> None:
        self._fields_for = fields_for
        # (", " count, length of the first key) -> learned layouts of that outline (usually one)
        self._layouts: dict[tuple[int, int], tuple[_Layout, ...]] = {}
        self._learned = 0
        self._seen_once: set[tuple[str, ...]] = set()

    def record(
        self, body: str, kind: str, timestamp: datetime | None, iteration: int | None, source: str
    ) -> SchedulerStats | None:
        """The record for a body of a learned shape, else None."""
        layouts = self._layouts.get((body.count(", "), body.find(": ")))
        if layouts is None:
            return None
        for layout in layouts:
            match = layout.pattern.fullmatch(body)
            if match is None:
                continue
            texts = match.groups()
            pairs = dict(zip(layout.keys, texts, strict=False))  # one group per key
            args: list[Any] = [kind, timestamp, pairs, *_UNSET_TYPED, iteration, source]
            try:
                for index, position, convert in layout.fields:
                    args[position] = convert(texts[index])
            except (ValueError, KeyError):
                return None  # a value for the careful path to judge
            return SchedulerStats(*args)
        return None

    def learn(self, keys: tuple[str, ...]) -> None:
        """Note the keys of a body read the careful way (any keys: a shape only has to be safe,
        and it is when its keys are distinct and hold no ``","`` or ``":"``)."""
        if not keys:
            return
        if keys not in self._seen_once:
            if len(self._seen_once) >= self._MAX_SHAPES:
                self._seen_once.clear()
            self._seen_once.add(keys)
            return
        self._seen_once.discard(keys)
        outline = (len(keys) - 1, len(keys[0]))
        known = self._layouts.get(outline, ())
        if (
            any(layout.keys == keys for layout in known)
            or len(set(keys)) < len(keys)
            or any("," in key or ":" in key for key in keys)
        ):
            return
        if self._learned >= self._MAX_SHAPES:
            self._layouts, self._learned, known = {}, 0, ()
        pattern = re.compile(", ".join(re.escape(key) + ": " + _VALUE for key in keys))
        self._layouts[outline] = (_Layout(keys, pattern, self._fields_for(keys)), *known)[:4]
        self._learned += 1


# "True" / "False" -> bool; anything else raises KeyError (a C call: no Python frame per line)
_graph_flag = _BOOLS.__getitem__


def _sglang_fields(keys: tuple[str, ...]) -> tuple[FieldSpec, ...]:
    """The typed fields a body with ``keys`` fills, exactly as :func:`_read_body` fills them."""
    fields: list[FieldSpec] = []
    for index, key in enumerate(keys):
        spec = _KEYS.get(key)
        if spec is not None:
            fields.append((index, POSITION[spec[0]], spec[1]))
        elif key.endswith(" graph"):
            fields.append((index, POSITION["cuda_graph"], _graph_flag))
    filled = {position for _, position, _ in fields}
    for index, key in enumerate(keys):
        spec = _FALLBACK_KEYS.get(key)
        if spec is not None and POSITION[spec[0]] not in filled:
            fields.append((index, POSITION[spec[0]], spec[1]))
    return tuple(fields)


_SGLANG_LAYOUTS = BodyLayouts(_sglang_fields)


def _read_body(body: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The ``key: value`` pairs as logged, and the typed record fields, one part at a time (the
    careful path). A value that does not convert is left out of the fields; it stays in the
    pairs."""
    pairs: dict[str, str] = {}
    values: dict[str, Any] = {}
    fallback = False
    for part in body.split(", "):
        key, sep, value = part.rpartition(": ")
        if not sep:
            key, value = part.strip(), ""
            if not key:
                continue
        pairs[key] = value
        if key in _FALLBACK_KEYS:
            fallback = True
        spec = _KEYS.get(key)
        if spec is None:
            if key.endswith(" graph"):  # "cuda graph", "cpu graph", "npu graph", ...
                if value in _BOOLS:
                    values["cuda_graph"] = _BOOLS[value]
            continue
        try:
            values[spec[0]] = spec[1](value)
        except ValueError:
            continue
    if fallback:  # SWA/Mamba/HiSparse lines: "full token usage" stands in for "token usage"
        for key, (name, convert) in _FALLBACK_KEYS.items():
            if key in pairs and name not in values:
                try:
                    values[name] = convert(pairs[key])
                except ValueError:
                    continue
    return pairs, values


def parse_sglang_batch_line(line: str) -> SchedulerStats | None:
    """An SGLang ``Prefill batch`` / ``Decode batch`` line -> :class:`SchedulerStats`, or None."""
    at = line.find(" batch")
    if at < 0:
        return None
    if line.startswith("Prefill", at - 7):
        kind, start = "prefill", at - 7
    elif line.startswith("Decode", at - 6):
        kind, start = "decode", at - 6
    else:
        return None
    end = at + 6  # of the head so far
    iteration: int | None = None
    if line.startswith(" [", end):
        match = _HEAD_ITERATION.match(line, end)
        if match is None:
            return None
        iteration = int(match.group(1))
        end = match.end()
    if line[end : end + 2] not in (". ", ", "):
        return None
    body = line[end + 2 :].rstrip()
    if body.endswith(","):
        body = body[:-1]
    if start > 0:
        timestamp, source = parse_sglang_timestamp(line[:start])
    else:
        timestamp, source = None, ""
    record = _SGLANG_LAYOUTS.record(body, kind, timestamp, iteration, source)
    if record is not None:
        return record
    pairs, values = _read_body(body)
    if not pairs:
        return None
    _SGLANG_LAYOUTS.learn(tuple(pairs))
    try:
        return SchedulerStats(
            kind=kind,
            timestamp=timestamp,
            raw=pairs,
            iteration=iteration,
            source=source,
            **values,
        )
    except (TypeError, ValueError):  # defensive: a record must never make parsing raise
        return None
