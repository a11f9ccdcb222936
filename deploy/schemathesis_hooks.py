"""What a JSON Schema cannot state, for deploy/schemathesis.sh.

Everything a schema can say is in the services' OpenAPI documents: a request
generated from them that a service refuses is a hole in the document, to be
fixed there, not here. Here is only what no schema can say:
- rules about time relative to now, or between two fields, which schemathesis
  cannot generate to (a hold expires in the future, a report's `from` is not
  before its window nor after its `to`, a statement's `from` is before its
  `to`, a transfer names two different accounts, a search names a reference
  or a label): valid requests are moved into them;
- values only the service makes (a `snapshot` token or a `cursor`, sealed
  with its key);
- JSON Schema's integers include 2.0, which the services read as a wrong
  type (400), as serde and most typed clients do: it is sent as 2;
- the contract's own answers to the state the run has built: a request that
  is valid but refused because of what is stored (not enough money, a
  transaction reversed already, an Idempotency-Key used with another body)
  is a 422 the contract demands, and is not counted as a finding.
Only schema-valid (positive) cases are touched.
"""

import datetime
import decimal
import hashlib
import json
import os
import random
import re

import requests

import schemathesis
from schemathesis import GenerationMode

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?")

# The codes of 422 answers that depend on what is stored, by operation; a
# schema cannot know them. A failed Transaction (the ledger refused the
# movement and recorded it) counts by its `reason`.
# A frozen or closed account refuses money out (or any movement), recorded.
STANDING = {"account_frozen", "account_closed"}
STATE_REFUSALS = {
    "POST /api/v1/deposits": STANDING,
    "POST /api/v1/withdrawals": {"insufficient_funds", "currency_mismatch"} | STANDING,
    # same_account: one side named by account, the other by the user who
    # holds it.
    "POST /api/v1/transfers": {"insufficient_funds", "currency_mismatch", "same_account"} | STANDING,
    "POST /api/v1/transfers/batch": {
        "insufficient_funds",
        "currency_mismatch",
        "linked_transfer_failed",
        "same_account",
    }
    | STANDING,
    "POST /api/v1/reservations": {"insufficient_funds"} | STANDING,
    "POST /api/v1/reservations/{order_id}/capture": {"capture_exceeds_reserved"},
    "POST /api/v1/transactions/{transaction_id}/reversals": {
        "insufficient_funds",
        "not_reversible",
        "reversal_exceeds_original",
        # Part of an exchange that converts, at its rate, to 0.00.
        "invalid_amount",
    }
    | STANDING,
    # same_currency: the accounts' currencies are stored, not sent;
    # invalid_amount: an amount and a rate whose product rounds to 0.00 (a
    # rule between two fields). The generated account ids are mostly
    # unknown (404), which the document states.
    "POST /api/v1/exchanges": {"insufficient_funds", "same_currency", "invalid_amount"} | STANDING,
    # accounts-manager does not know the account (the contract's 422).
    "POST /api/v1/advances": {"unknown_account"},
    # amount_too_small: what is left to split is stored, not sent;
    # invalid_due_date: a first_due_at the clock has passed by arrival.
    "POST /api/v1/advances/{advance_id}/reschedule": {"amount_too_small", "invalid_due_date"},
}


def _positive(case):
    meta = case.meta
    return meta is not None and meta.generation.mode == GenerationMode.POSITIVE


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _is_time(value):
    if not isinstance(value, str):
        return False
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def _rfc3339(moment):
    return moment.isoformat().replace("+00:00", "Z")


def _integers(value):
    # JSON Schema counts 2.0 as an integer; the services, like serde and most
    # typed clients, read integers written without a fraction and answer
    # 400 (a wrong type) to 2.0. Amounts mean the same either way.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integers(item) for item in value]
    return value


def _two_sides(transfer):
    # A transfer names two different accounts (same_account otherwise).
    for field, other in (("to_account_id", "00000000-0000-4000-8000-000000000001"), ("to_user_id", None)):
        mine = transfer.get(field)
        if mine is None or mine != transfer.get(field.replace("to_", "from_", 1)):
            continue
        if other is None:
            other = mine - 1 if mine > 1 else mine + 1
        transfer[field] = other


def _advance(body):
    # An advance of at least a cent a payment (amount_too_small otherwise).
    amount, installments = body.get("amount"), body.get("installments")
    try:
        too_small = decimal.Decimal(str(amount)) < decimal.Decimal("0.01") * (installments or 12)
    except (decimal.InvalidOperation, TypeError):
        return
    if too_small:
        body["installments"] = 1
    # An account of accounts-manager, new for each advance, so that advances
    # are made: not refused as unknown_account, nor as advance_in_progress.
    if os.environ.get("ST_ACCOUNTS_URL") and isinstance(body.get("account_id"), str):
        body["account_id"] = _new_account()


def _new_account():
    opened = requests.post(
        os.environ["ST_ACCOUNTS_URL"] + "/api/v1/accounts",
        json={"user_id": random.randint(1, 2**62)},
        headers={"Authorization": "Bearer " + os.environ["ST_TOKEN"]},
        timeout=10,
    )
    opened.raise_for_status()
    return opened.json()["account_id"]


@schemathesis.hook
def map_case(context, case):
    if not _positive(case):
        return case
    operation = f"{case.method.upper()} {case.path}"
    if isinstance(case.query, dict):
        # Snapshot tokens and cursors are made and sealed by the service.
        case.query.pop("snapshot", None)
        case.query.pop("cursor", None)
        if case.path == "/api/v1/search/transactions" and not case.query.get("reference"):
            # A search needs a reference or a metadata.<key> filter
            # (invalid_filter); metadata.<key> names cannot be declared.
            case.query["reference"] = "x"
        if case.path == "/api/v1/accounts/{account_id}/statement":
            # `from` before `to`.
            if _is_time(case.query.get("from")) and _is_time(case.query.get("to")):
                case.query["from"] = _rfc3339(_now() - datetime.timedelta(days=1))
                case.query["to"] = _rfc3339(_now())
        if case.path == "/api/v1/accounts/{account_id}/balance" and _is_time(case.query.get("at")):
            # `at` may not be in the future.
            case.query["at"] = _rfc3339(_now() - datetime.timedelta(days=1))
        if case.path == "/api/v1/transactions":
            # `from` within the report window (5 days), not after `to`.
            if _is_time(case.query.get("from")):
                case.query["from"] = _rfc3339(_now() - datetime.timedelta(days=1))
            if _is_time(case.query.get("to")):
                case.query["to"] = _rfc3339(_now())
    body = case.body
    if isinstance(body, (dict, list)):
        body = _integers(body)
        if isinstance(body, dict):
            if case.path in ("/api/v1/reservations", "/api/v1/admin/api-keys") and _is_time(
                body.get("expires_at")
            ):
                # In the future (a hold: at most RESERVATION_MAX_TTL, 30 days, ahead).
                body["expires_at"] = _rfc3339(_now() + datetime.timedelta(days=1))
            transfers = body.get("transfers") if case.path == "/api/v1/transfers/batch" else [body]
            if case.path.startswith("/api/v1/transfers") and isinstance(transfers, list):
                for transfer in transfers:
                    if isinstance(transfer, dict):
                        _two_sides(transfer)
            if case.path == "/api/v1/advances":
                _advance(body)
        case.body = body
    key = case.headers.get("Idempotency-Key") if case.headers else None
    if isinstance(key, str) and IDEMPOTENCY_KEY.fullmatch(key):
        # One key per request: a key sent again with another body is the
        # contract's 422 idempotency_key_reused.
        request = json.dumps([operation, case.path_parameters, case.body], sort_keys=True, default=str)
        case.headers["Idempotency-Key"] = "st-" + hashlib.sha256(request.encode()).hexdigest()
    return case


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if failure.code != "ST202":
        return True
    refusals = STATE_REFUSALS.get(f"{case.method.upper()} {case.path}", set())
    try:
        body = json.loads(response.content)
    except ValueError:
        return True
    if not isinstance(body, dict):
        return True
    code = body.get("reason") if body.get("status") == "failed" else (body.get("error") or {}).get("code")
    if response.status_code == 422 and code in refusals:
        return False
    if response.status_code == 422 and isinstance(body.get("items"), list):
        # An atomic batch the ledger refused: every transfer recorded as failed.
        reasons = {item.get("reason") for item in body["items"] if isinstance(item, dict)}
        if reasons <= refusals:
            return False
    return True
