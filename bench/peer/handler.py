"""The Python peer of the orchestrator for ./scripts/bench.sh: an SQS-triggered handler written the way most Lambda
users would write it — AWS Lambda Powertools' batch processor (partial batch failures) and idempotency utility
(a conditional put of the idempotency record in DynamoDB through boto3) — doing the orchestrator's claim of each
signal message and a paper decision. Started by awslambdaric against the same local Runtime API and emulator.
"""

import json
import os

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])
config = IdempotencyConfig(event_key_jmespath="idempotency_key", expires_after_seconds=7 * 86400)
processor = BatchProcessor(event_type=EventType.SQS)


@idempotent_function(data_keyword_argument="signal", config=config, persistence_store=persistence)
def claim(signal):
    """The claim (the idempotency record's conditional put) and a paper decision, recorded as its result."""
    return {
        "decision_type": "EXECUTED",
        "reason_code": "EXECUTED",
        "client_oid": signal["idempotency_key"][-36:],
    }


def record_handler(record):
    body = json.loads(record.body)
    if body.get("version") != 1:
        raise ValueError(f"unsupported message version {body.get('version')!r}")
    return claim(signal=body)


def handler(event, context):
    config.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
