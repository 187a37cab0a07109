#!/usr/bin/env python3
"""Independent reference for the indicators (Python standard library only, written from the original system's
formulas, not from the Rust code): resamples a candle file to 1h and prints, for every closed candle with at least
20 candles of history (at most the last 200), RSI(14) as a simple mean, MA50, MA200, EMA10 seeded with the first
close, ATR(14) as a mean of true ranges, and the volume ratio of the last candle over an EMA(5) of the five before.

Regenerate the fixture:
    python3 shared/tests/data/indicators_reference.py data/candles/ETH_BTC-5m.json > shared/tests/data/indicators-ETH_BTC-1h.json
"""
import json
import sys

HOUR = 3_600_000


def resample(rows):
    out = []
    for t, o, h, l, c, v in rows:
        b = int(t) - int(t) % HOUR
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


def volume_ratio(candles, period=5):
    last, before = candles[-1], candles[:-1]
    if len(before) < period:
        return None
    avg = ema([c[5] for c in before[-period:]], period)
    return last[5] / avg if avg > 0 else None


def main(path, limit=150):
    with open(path, encoding="utf-8") as f:
        series = resample(json.load(f))
    rows = []
    for end in range(1, len(series) + 1):
        window = series[max(0, end - 200):end]
        if len(window) < 20:
            continue
        closes = [c[4] for c in window]
        if len(window) < 50:  # the original's defaults for a short history
            price = closes[-1]
            rows.append({"t": window[-1][0], "rsi": 50.0, "ma50": price, "ma200": price, "ema10": price,
                         "atr": price * 0.02, "volume_ratio": volume_ratio(window)})
            continue
        rows.append({
            "t": window[-1][0],
            "rsi": rsi(closes),
            "ma50": sma(closes, 50),
            "ma200": sma(closes, 200),
            "ema10": ema(closes, 10),
            "atr": atr(window),
            "volume_ratio": volume_ratio(window),
        })
    json.dump(rows[:limit], sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main(sys.argv[1])
