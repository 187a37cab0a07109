#!/usr/bin/env python3
"""Independent reference for the indicators (Python standard library only, written from the original system's
formulas, not from the Rust code): resamples a candle file to 1h and prints, for every closed candle with at least
20 candles of history (at most the last 200), RSI(14) as a simple mean, MA50, MA200, EMA10 seeded with the first
close, ATR(14) as a mean of true ranges, and the volume gate as the original's calculate_volume_index computes it
on 5-minute candles (the file's own, or its 1-minute candles summed into 5-minute ones).

Regenerate the fixtures:
    python3 shared/tests/data/indicators_reference.py data/candles/ETH_BTC-5m.json > shared/tests/data/indicators-ETH_BTC-1h.json
    python3 shared/tests/data/indicators_reference.py --volume data/candles/*.json > shared/tests/data/volume-gate-1h.json
"""
import json
import sys

import os

HOUR = 3_600_000
FIVE_MIN = 300_000


def resample(rows, step=HOUR):
    out = []
    for t, o, h, l, c, v in sorted(rows, key=lambda r: r[0]):
        b = int(t) - int(t) % step
        if out and out[-1][0] == b:
            last = out[-1]
            out[-1] = [b, last[1], max(last[2], h), min(last[3], l), c, last[5] + v]
        else:
            out.append([b, o, h, l, c, v])
    return out


def rsi(closes, period=14):
    if len(closes) < period + 1:
        return 50.0
    w = closes[-(period + 1):]
    gain = loss = 0.0
    for a, b in zip(w, w[1:]):
        d = b - a
        if d > 0:
            gain += d
        else:
            loss -= d
    ag, al = gain / period, loss / period
    return 100.0 if al == 0 else 100.0 - 100.0 / (1.0 + ag / al)


def sma(values, n):
    w = values[-n:]
    return sum(w) / len(w)


def ema(values, n):
    k = 2.0 / (n + 1.0)
    acc = values[0]
    for v in values[1:]:
        acc = v * k + acc * (1.0 - k)
    return acc


def atr(candles, period=14):
    trs = []
    for prev, c in zip(candles, candles[1:]):
        pc = prev[4]
        trs.append(max(c[2] - c[3], abs(c[2] - pc), abs(c[3] - pc)))
    w = trs[-period:]
    return sum(w) / len(w) if w else None


def volume_index(volumes, period=5):
    """The original's gate over completed 5-minute volumes (the newest is the current one). EMA(5) of the six
    volumes ending with the current one; in a sustained surge (3 of the last 4 over 1.5x the mean of the last 11)
    the average is at least 0.8x that mean; both rounded to cents; no data (None) when the average rounds to 0."""
    if len(volumes) < period + 1:
        return None
    current = volumes[-1]
    average = ema(volumes[-(period + 1):], period)
    if len(volumes) >= 11:
        mean11 = sum(volumes[-11:]) / 11
        if len([v for v in volumes[-4:] if v > 1.5 * mean11]) >= 3:
            average = max(average, 0.8 * mean11)
    current, average = round(current, 2), round(average, 2)
    return current / average if average > 0 else None


def gate_at(five_min, closes_at):
    """The gate as of `closes_at`: the 5-minute candles closed by then, the last 11."""
    done = [c[5] for c in five_min if c[0] + FIVE_MIN <= closes_at]
    return volume_index(done[-11:])


def main(path, limit=150):
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    series, five_min = resample(raw), resample(raw, FIVE_MIN)
    rows = []
    for end in range(1, len(series) + 1):
        window = series[max(0, end - 200):end]
        if len(window) < 20:
            continue
        closes = [c[4] for c in window]
        if len(window) < 50:  # the original's defaults for a short history
            price = closes[-1]
            rows.append({"t": window[-1][0], "rsi": 50.0, "ma50": price, "ma200": price, "ema10": price,
                         "atr": price * 0.02, "volume_ratio": gate_at(five_min, window[-1][0] + HOUR)})
            continue
        rows.append({
            "t": window[-1][0],
            "rsi": rsi(closes),
            "ma50": sma(closes, 50),
            "ma200": sma(closes, 200),
            "ema10": ema(closes, 10),
            "atr": atr(window),
            "volume_ratio": gate_at(five_min, window[-1][0] + HOUR),
        })
    json.dump(rows[:limit], sys.stdout, indent=1)
    print()


def volume_gates(paths):
    """Every hourly close of each file: [open time of the hour, the gate's ratio]."""
    out = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
        five_min = resample(raw, FIVE_MIN)
        out[os.path.basename(path)] = [[h[0], gate_at(five_min, h[0] + HOUR)] for h in resample(raw)]
    json.dump(out, sys.stdout, indent=0)
    print()


if __name__ == "__main__":
    if sys.argv[1] == "--volume":
        volume_gates(sys.argv[2:])
    else:
        main(sys.argv[1])
