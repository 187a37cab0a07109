"""The Python peer of the orchestrator for the benches: the orchestrator's work for a placed paper BUY, written the way
a Python team on Lambda would write it (boto3, AWS Lambda Powertools' batch processor for partial batch failures,
started by awslambdaric), against the same local Runtime API, emulator and tables, request for request
(docs/PERFORMANCE.md, "The warm path beside a peer"):

- at init: the control row read (the orchestrator's WARM_UP_AT_INIT);
- per record: the message parsed and checked (version, fields, clock skew, age); the symbol's watchlist limits, kept
  per container; the size at the quote currency's USD price; the claim's one transaction (the signal row checked
  field by field, the intent put with its size, the control row's version and the symbol's limits checked, the
  day's counters and the exposure reserved within the limits); the paper order; the finalize's one transaction (the
  intent's final state, fenced on its attempt; the decision on the signal); the breaker's conditional reset;
- then the fill recorded with the held quantity and its ORDER EXECUTED message, and the first protection step (the
  symbol's settings read, the protection claimed, the paper OCO, the protection recorded with its SL/TP PLACED
  message), each message sent to Telegram and its delivery recorded.

What it leaves out, said so the comparison stays honest: SELLs, the skip and failure paths, the takeover and
reconciliation paths and the re-claim after a refused condition (such a record is simply retried), the instruments'
tick sizes and the exchange's fees (a fixed 0.1 %), structured logs and metrics. The benches give it only placed BUYs.
"""

import hashlib
import json
import os
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from botocore.exceptions import ClientError

TABLES = {
    "signals": os.environ["SIGNALS_TABLE"],
    "intents": os.environ["ORDER_INTENTS_TABLE"],
    "watchlist": os.environ["WATCHLIST_TABLE"],
    "risk": os.environ["RISK_TABLE"],
    "alerts": os.environ["ALERTS_TABLE"],
}
TELEGRAM = os.environ.get("TELEGRAM_API_BASE_URL", "https://api.telegram.org")
LIMITS = ["max_order_usd", "max_orders_per_day", "max_notional_usd_per_day", "max_exposure_usd", "max_daily_loss_usd"]
PEGGED = {"USD", "USDT", "USDC"}
DEFAULT_DAILY_NOTIONAL_USD, DEFAULT_BREAKER_FAILURES = Decimal(1000), Decimal(3)
LEASE_MS, MAX_AGE_MS, MAX_SKEW_MS, RETENTION_DAYS, DECIMALS = 60_000, 900_000, 60_000, 30, 8
STEP = Decimal(1).scaleb(-DECIMALS)

dynamodb = boto3.client("dynamodb")
paper_usd = dict(p.split("=", 1) for p in os.environ.get("PAPER_USD_PRICES", "").split(",") if "=" in p)
processor = BatchProcessor(event_type=EventType.SQS)
symbol_limits = {}


def read_control():
    return dynamodb.get_item(TableName=TABLES["risk"], Key={"pk": {"S": "control"}}, ConsistentRead=True).get("Item")


control = read_control()


def num(item, name):
    value = (item or {}).get(name, {})
    return Decimal(value["N"]) if "N" in value else None


def setting(name, default=None):
    """A control row's setting: its default while the row or the attribute is absent; "off" is no limit."""
    return num(control, name) if control and name in control else default


def client_oid(key):
    """`so1-` and the first 32 hex digits of the key's SHA-256: the orchestrator's client_oid."""
    return "so1-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def rfc3339(t):
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(body):
    msg = json.loads(body)
    if msg.get("version") != 1:
        raise ValueError(f"unsupported message version {msg.get('version')!r}")
    for field in ("signal_id", "idempotency_key", "symbol", "side", "price", "trade_amount_usd", "emitted_at"):
        if not isinstance(msg.get(field), str):
            raise ValueError(f"{field} missing or not a string")
    if msg["side"] not in ("BUY", "SELL"):
        raise ValueError(f"side {msg['side']!r}")
    msg["price"], msg["trade_amount_usd"] = Decimal(msg["price"]), Decimal(msg["trade_amount_usd"])
    msg["emitted"] = datetime.fromisoformat(msg["emitted_at"].replace("Z", "+00:00"))
    return msg


def limits_of(symbol):
    if symbol not in symbol_limits:
        row = dynamodb.get_item(
            TableName=TABLES["watchlist"],
            Key={"symbol": {"S": symbol}},
            ProjectionExpression=", ".join(LIMITS),
        ).get("Item")
        symbol_limits[symbol] = {name: num(row, name) for name in LIMITS}
    return symbol_limits[symbol]


def size(msg):
    quote = msg["symbol"].split("_", 1)[1]
    usd_per_unit = Decimal(1) if quote in PEGGED else Decimal(paper_usd[quote])
    notional = (msg["trade_amount_usd"] / usd_per_unit).quantize(STEP, rounding=ROUND_DOWN)
    quantity = (notional / msg["price"]).quantize(STEP, rounding=ROUND_DOWN)
    if quantity <= 0:
        raise ValueError("the order rounds to zero")
    return {"notional": notional, "quantity": quantity, "quote": quote, "usd_per_unit": usd_per_unit}


def limits_check(symbol, seen):
    names, values, conditions = {}, {}, []
    for i, name in enumerate(LIMITS):
        names[f"#l{i}"] = name
        if seen[name] is None:
            conditions.append(f"attribute_not_exists(#l{i})")
        else:
            conditions.append(f"#l{i} = :l{i}")
            values[f":l{i}"] = {"N": str(seen[name])}
    check = {
        "TableName": TABLES["watchlist"],
        "Key": {"symbol": {"S": symbol}},
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if values:
        check["ExpressionAttributeValues"] = values
    return {"ConditionCheck": check}


def reserve(key, amount, orders, max_usd, max_orders, expires):
    update = {
        "TableName": TABLES["risk"],
        "Key": {"pk": {"S": key}},
        "UpdateExpression": "ADD usd :usd, orders :orders SET expires_at = :exp",
        "ExpressionAttributeValues": {
            ":usd": {"N": str(amount)},
            ":orders": {"N": str(orders)},
            ":exp": {"N": str(expires)},
        },
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    conditions = []
    if max_usd is not None:
        conditions.append("(attribute_not_exists(usd) OR usd <= :most)")
        update["ExpressionAttributeValues"][":most"] = {"N": str(max_usd - amount)}
    if max_orders is not None:
        conditions.append("(attribute_not_exists(orders) OR orders < :max)")
        update["ExpressionAttributeValues"][":max"] = {"N": str(max_orders)}
    if conditions:
        update["ConditionExpression"] = " AND ".join(conditions)
    return {"Update": update}


def intent_item(msg, now, status, sizing, order_id=None):
    item = {
        "idempotency_key": {"S": msg["idempotency_key"]},
        "signal_id": {"S": msg["signal_id"]},
        "symbol": {"S": msg["symbol"]},
        "side": {"S": msg["side"]},
        "status": {"S": status},
        "mode": {"S": "PAPER"},
        "client_oid": {"S": client_oid(msg["idempotency_key"])},
        "attempt": {"N": "1"},
        "lease_until_ms": {"N": str(int(now.timestamp() * 1000) + LEASE_MS)},
        "created_at": {"S": rfc3339(now)},
        "day": {"S": now.strftime("%Y-%m-%d")},
        "expires_at": {"N": str(int((now + timedelta(days=RETENTION_DAYS)).timestamp()))},
        "updated_at": {"S": rfc3339(now)},
        "amount_usd": {"S": str(msg["trade_amount_usd"])},
        "quote_currency": {"S": sizing["quote"]},
        "quote_usd_price": {"S": str(sizing["usd_per_unit"])},
        "notional": {"S": str(sizing["notional"])},
        "quantity": {"S": str(sizing["quantity"])},
        "ref_price": {"S": str(msg["price"])},
    }
    if order_id:
        item["order_id"] = {"S": order_id}
    return item


def claim(msg, now, sizing, limits):
    version = num(control, "version")
    day, symbol, amount = now.strftime("%Y-%m-%d"), msg["symbol"], msg["trade_amount_usd"]
    cap = setting("max_notional_usd_per_day", DEFAULT_DAILY_NOTIONAL_USD)
    if control and control.get("trading_halted", {}).get("BOOL"):
        raise ValueError("trading halted: the orchestrator would skip it (not modelled by the peer)")
    for most in (setting("max_order_usd"), limits["max_order_usd"]):
        if most is not None and amount > most:
            raise ValueError("over a size limit: the orchestrator would skip it (not modelled by the peer)")
    expires = int((now + timedelta(days=RETENTION_DAYS)).timestamp())
    control_check = {"TableName": TABLES["risk"], "Key": {"pk": {"S": "control"}}}
    if version is None:
        control_check["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        control_check["ConditionExpression"] = "version = :v"
        control_check["ExpressionAttributeValues"] = {":v": {"N": str(version)}}
    items = [
        {"ConditionCheck": signal_check(msg)},
        {
            "Put": {
                "TableName": TABLES["intents"],
                "Item": intent_item(msg, now, "PENDING", sizing),
                "ConditionExpression": "attribute_not_exists(idempotency_key)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
        {"ConditionCheck": control_check},
        limits_check(symbol, limits),
        reserve(f"day#{day}", amount, 1, cap, setting("max_orders_per_day"), expires),
        reserve(
            f"day#{day}#{symbol}",
            amount,
            1,
            limits["max_notional_usd_per_day"],
            limits["max_orders_per_day"],
            expires,
        ),
    ]
    if msg["side"] == "BUY":
        items.append(reserve(f"exposure#{symbol}", amount, 0, limits["max_exposure_usd"], None, expires))
    try:
        dynamodb.transact_write_items(TransactItems=items)
        return True
    except ClientError as e:
        reasons = e.response.get("CancellationReasons") or []
        if len(reasons) > 1 and reasons[1].get("Code") == "ConditionalCheckFailed":
            return False  # a redelivery: the intent exists
        raise


def signal_check(msg):
    notify = msg.get("notify_order_placed", True)
    return {
        "TableName": TABLES["signals"],
        "Key": {"signal_id": {"S": msg["signal_id"]}},
        "ConditionExpression": "attribute_exists(signal_id) AND #symbol = :symbol AND #side = :side AND #price = :price"
        " AND #amount = :amount AND #trade = :trade AND #created = :created AND #blocked = :blocked AND "
        + ("(#notify = :notify OR attribute_not_exists(#notify))" if notify else "#notify = :notify"),
        "ExpressionAttributeNames": {
            "#symbol": "symbol",
            "#side": "side",
            "#price": "price",
            "#amount": "trade_amount_usd",
            "#trade": "trade_enabled",
            "#created": "created_at",
            "#blocked": "blocked",
            "#notify": "notify_order_placed",
        },
        "ExpressionAttributeValues": {
            ":symbol": {"S": msg["symbol"]},
            ":side": {"S": msg["side"]},
            ":price": {"S": str(msg["price"])},
            ":amount": {"S": str(msg["trade_amount_usd"])},
            ":trade": {"BOOL": bool(msg.get("trade_enabled", True))},
            ":created": {"S": rfc3339(msg["emitted"])},
            ":blocked": {"BOOL": False},
            ":notify": {"BOOL": bool(notify)},
        },
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def finalize(msg, now, sizing, order_id):
    decided = datetime.now(timezone.utc)
    item = intent_item(msg, now, "ORDER_PLACED", sizing, order_id)
    item["updated_at"] = {"S": rfc3339(decided)}
    dynamodb.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": TABLES["intents"],
                    "Item": item,
                    "ConditionExpression": "attempt = :mine",
                    "ExpressionAttributeValues": {":mine": {"N": "1"}},
                }
            },
            {
                "Update": {
                    "TableName": TABLES["signals"],
                    "Key": {"signal_id": {"S": msg["signal_id"]}},
                    "UpdateExpression": "SET decision_type = :dt, reason_code = :rc, reason_message = :rm,"
                    " #ctx = :ctx, correlation_id = :cid, decided_at = :at, order_id = :oid, idempotency_key = :key",
                    "ExpressionAttributeNames": {"#ctx": "context"},
                    "ConditionExpression": "attribute_exists(signal_id) AND (attribute_not_exists(decision_type)"
                    " OR (decision_type = :dt AND reason_code = :rc))",
                    "ExpressionAttributeValues": {
                        ":dt": {"S": "EXECUTED"},
                        ":rc": {"S": "EXEC_ORDER_PLACED"},
                        ":rm": {
                            "S": f"Order created successfully for {msg['symbol']} {msg['side']} (PAPER)."
                            f" order_id={order_id}"
                        },
                        ":ctx": {
                            "M": {
                                "symbol": {"S": msg["symbol"]},
                                "mode": {"S": "PAPER"},
                                "attempt": {"S": "1"},
                                "order_id": {"S": order_id},
                            }
                        },
                        ":cid": {"S": client_oid(msg["idempotency_key"])},
                        ":at": {"S": rfc3339(decided)},
                        ":oid": {"S": order_id},
                        ":key": {"S": msg["idempotency_key"]},
                    },
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
        ]
    )


def breaker_success():
    try:
        dynamodb.update_item(
            TableName=TABLES["risk"],
            Key={"pk": {"S": "breaker"}},
            UpdateExpression="SET streak = :zero",
            ConditionExpression="streak > :zero",
            ExpressionAttributeValues={":zero": {"N": "0"}},
        )
    except ClientError as e:
        if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def outbox_row(alert_id, kind, msg, text, now):
    return {
        "Put": {
            "TableName": TABLES["alerts"],
            "Item": {
                "alert_id": {"S": alert_id},
                "kind": {"S": kind},
                "symbol": {"S": msg["symbol"]},
                "side": {"S": msg["side"]},
                "text": {"S": text},
                "status": {"S": "PENDING"},
                "attempts": {"N": "0"},
                "created_at": {"S": rfc3339(now)},
                "expires_at": {"N": str(int((now + timedelta(days=RETENTION_DAYS)).timestamp()))},
            },
            "ConditionExpression": "attribute_not_exists(alert_id)",
        }
    }


def deliver(alert_id, text):
    """The message sent to Telegram, then its outbox row marked sent, or its failed attempt recorded."""
    try:
        body = json.dumps({"chat_id": "0", "text": text}).encode()
        request = urllib.request.Request(f"{TELEGRAM}/botpeer/sendMessage", body, {"Content-Type": "application/json"})
        message_id = json.load(urllib.request.urlopen(request, timeout=5))["result"]["message_id"]
        update = "SET #s = :sent, telegram_message_id = :mid ADD attempts :one"
        extra = {
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":sent": {"S": "SENT"}, ":mid": {"N": str(message_id)}},
        }
    except (OSError, ValueError, KeyError) as e:
        update = "SET last_error = :e ADD attempts :one"
        extra = {"ExpressionAttributeValues": {":e": {"S": str(e)[:500]}}}
    extra["ExpressionAttributeValues"][":one"] = {"N": "1"}
    dynamodb.update_item(
        TableName=TABLES["alerts"],
        Key={"alert_id": {"S": alert_id}},
        UpdateExpression=update,
        ConditionExpression="attribute_exists(alert_id)",
        **extra,
    )


def record_step(key, update, values, condition, outbox=None, held=None, token=None):
    """One recorded step in one transaction: the intent's conditional update, the step's outbox row, the held
    quantity's change."""
    items = [
        {
            "Update": {
                "TableName": TABLES["intents"],
                "Key": {"idempotency_key": {"S": key}},
                "UpdateExpression": update,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#st": "status"},
                "ExpressionAttributeValues": {**values, ":placed": {"S": "ORDER_PLACED"}},
            }
        }
    ]
    if outbox:
        items.append(outbox)
    if held:
        items.append(
            {
                "Update": {
                    "TableName": TABLES["risk"],
                    "Key": {"pk": {"S": held[0]}},
                    "UpdateExpression": "ADD qty :d",
                    "ExpressionAttributeValues": {":d": {"N": str(held[1])}},
                }
            }
        )
    dynamodb.transact_write_items(TransactItems=items, ClientRequestToken=hashlib.sha256(token.encode()).hexdigest()[:32])


def follow(msg, sizing, order_id):
    """The placed order's fill read once (the paper exchange fills a market order at once, at the signal's price)
    and recorded with its ORDER EXECUTED message and the held quantity (docs/DESIGN.md §13)."""
    now, key, qty = datetime.now(timezone.utc), msg["idempotency_key"], sizing["quantity"]
    fee = (qty * Decimal("0.001")).quantize(STEP, rounding=ROUND_DOWN)
    fill = {
        ":fill_status": {"S": "FILLED"},
        ":filled_quantity": {"S": str(qty)},
        ":fill_average_price": {"S": str(msg["price"])},
        ":fill_fee": {"S": str(fee)},
        ":fill_fee_currency": {"S": msg["symbol"].split("_", 1)[0]},
        ":fill_updated_at": {"S": rfc3339(now)},
        ":fill_version": {"N": "1"},
        ":fill_increments": {"N": "1"},
    }
    update = "SET " + ", ".join(f"{k[1:]} = {k}" for k in fill)
    text = f"✅ ORDER EXECUTED {msg['symbol']} {msg['side']} {qty} @ {msg['price']} (PAPER) order_id={order_id}"
    alert_id = f"executed:{key}:1"
    record_step(
        key,
        update,
        fill,
        "#st = :placed AND attribute_not_exists(fill_version)",
        outbox_row(alert_id, "ORDER_EXECUTED", msg, text, now),
        (f"position#{msg['symbol']}", qty - fee),
        f"{key}#1",
    )
    deliver(alert_id, text)
    return qty - fee


def protect(msg, held):
    """The first protection step (docs/DESIGN.md §14): the symbol's settings read, the protection claimed on the
    intent before its OCO is sent, the paper OCO, the protection recorded placed with its SL/TP PLACED message."""
    now, key, price = datetime.now(timezone.utc), msg["idempotency_key"], msg["price"]
    row = dynamodb.get_item(
        TableName=TABLES["watchlist"], Key={"symbol": {"S": msg["symbol"]}}, ConsistentRead=True
    ).get("Item")
    sl_pct, tp_pct = num(row, "sl_pct") or Decimal(3), num(row, "tp_pct") or Decimal(6)
    sl = (price * (1 - sl_pct / 100)).quantize(STEP, rounding=ROUND_DOWN)
    tp = (price * (1 + tp_pct / 100)).quantize(STEP, rounding=ROUND_DOWN)
    legs = {"stop_loss": client_oid(key + "#sl"), "take_profit": client_oid(key + "#tp")}
    protection = {"status": "PLACING", "version": 1, "quantity": str(held), "sl": str(sl), "tp": str(tp), **legs}
    record_step(
        key,
        "SET protection = :p, protection_version = :v, open_fill = :open",
        {":p": {"S": json.dumps(protection)}, ":v": {"N": "1"}, ":open": {"S": "OPEN"}},
        "#st = :placed AND attribute_not_exists(protection_version)",
        token=f"{key}#p1",
    )
    protection.update(status="PLACED", version=2, oco_id=str(uuid.uuid4()))  # the paper exchange's OCO
    text = f"🛡 SL/TP PLACED {msg['symbol']} {held}: stop-loss {sl}, take-profit {tp} (PAPER)"
    alert_id = f"protected:{key}"
    record_step(
        key,
        "SET protection = :p, protection_version = :v, open_fill = :open",
        {":p": {"S": json.dumps(protection)}, ":v": {"N": "2"}, ":open": {"S": "OPEN"}, ":seen": {"N": "1"}},
        "#st = :placed AND protection_version = :seen",
        outbox_row(alert_id, "PROTECTION_PLACED", msg, text, now),
        token=f"{key}#p2",
    )
    deliver(alert_id, text)


def record_handler(record):
    msg = parse(record.body)
    now = datetime.now(timezone.utc)
    age_ms = (now - msg["emitted"]).total_seconds() * 1000
    if -age_ms > MAX_SKEW_MS:
        raise ValueError("emitted in the future")
    if age_ms > MAX_AGE_MS or msg["side"] != "BUY":
        raise ValueError("a stale signal or a SELL: paths the peer does not model")
    limits = limits_of(msg["symbol"])
    sizing = size(msg)
    if not claim(msg, now, sizing, limits):
        return "redelivery"
    order_id = str(uuid.uuid4())  # the paper exchange
    finalize(msg, now, sizing, order_id)
    if setting("breaker_failures", DEFAULT_BREAKER_FAILURES) is not None:
        breaker_success()
    protect(msg, follow(msg, sizing, order_id))
    return order_id


def handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
