"""The sandbox's state and business rules: tokens, recipients, sessions, executions, wallet.

The collection side (invoices, checkout sessions, collections) is the CollectionStore mixin.

Every operation takes `now` (a clock reading) and raises `Rejected` (422), `Missing` (404),
`Denied` (403) or `Unauthorized` (401); routes turn those into Dollr-shaped error bodies.
Single-threaded: only the server's event loop touches a Store. Each change is marked in
the journal (`batch.sandbox.persist`), which the app flushes before answering.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Any

from batch.sandbox import fees
from batch.sandbox.config import Faults, SandboxConfig
from batch.sandbox.invoices import CollectionStore
from batch.sandbox.persist import Snapshot, open_journal
from batch.sandbox.problems import Denied, Missing, Rejected, SandboxError, Unauthorized
from batch.sandbox.state import (
    COMPLETED,
    FAILED,
    Counterparty,
    Execution,
    Party,
    PaymentAccount,
    PayoutSession,
)

CREDENTIALS_REJECTED = "Could not validate credentials"


class Store(CollectionStore):
    """All state of one sandbox: in memory, journaled to `config.state_path` when set."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.faults: Faults = config.faults.model_copy()
        self.journal = open_journal(config.state_path)
        self._start()
        self._restore(self.journal.load())

    @property
    def instance_id(self) -> str:
        """Stable for as long as the ids it hands out are (a state file's life, or a run's)."""
        return self.journal.instance_id

    def reset(self) -> None:
        """Forget everything; balances and fault randomness back to the start."""
        self.journal.wipe()
        self._start()

    def close(self) -> None:
        """Flush and release the state file."""
        self.journal.close()

    def _start(self) -> None:
        self.rng = random.Random(self.config.seed)
        self.balances: dict[str, Decimal] = dict(self.config.balances)
        self.tokens: dict[str, float] = {}  # token -> expiry
        self.parties: dict[int, Party] = {}
        self.counterparties: dict[int, Counterparty] = {}
        self.accounts: dict[int, PaymentAccount] = {}
        self.sessions: dict[int, PayoutSession] = {}
        self.executions: dict[str, Execution] = {}
        self._in_flight: list[Execution] = []
        # Distinct id ranges per kind make id mix-ups in a client fail loudly.
        self._next = {"party": 300, "counterparty": 70, "account": 900, "session": 4400}
        self._start_collections()

    def _restore(self, snapshot: Snapshot) -> None:
        """Take up the records a journal kept (a rerun after a killed process)."""
        records = snapshot.records
        self.parties = {p.id: p for p in sorted(records.get("party", []), key=lambda r: r.id)}
        self.counterparties = {
            c.id: c for c in sorted(records.get("counterparty", []), key=lambda r: r.id)}
        self.accounts = {a.id: a for a in sorted(records.get("account", []), key=lambda r: r.id)}
        self.sessions = {x.id: x for x in sorted(records.get("session", []), key=lambda r: r.id)}
        executions = sorted(records.get("execution", []), key=lambda e: e.created_at)
        self.executions = {e.reference_id: e for e in executions}
        self._in_flight = [e for e in executions if not e.settled]
        self._restore_collections(records)
        if snapshot.balances is not None:
            self.balances = snapshot.balances
        if snapshot.counters is not None:
            self._next.update(snapshot.counters)

    def _changed(self, kind: str, key: object, record: object) -> None:
        """Journal a record and the wallet/counters a request changed."""
        self.journal.mark(kind, key, record)
        self.journal.mark_wallet(self.balances, self._next)

    def set_balances(self, balances: dict[str, Decimal]) -> dict[str, Decimal]:
        """Set some currencies' balances (inspection API)."""
        self.balances.update(balances)
        self.journal.mark_wallet(self.balances, self._next)
        return self.balances

    def _new_id(self, kind: str) -> int:
        self._next[kind] += 1
        return self._next[kind]

    # -- tokens (REFERENCE §3.1) ------------------------------------------------------------

    def issue_token(self, client_id: str, client_secret: str, now: float) -> tuple[str, int]:
        """A new bearer token and its announced lifetime in minutes."""
        secret = self.config.client_secret.get_secret_value()
        if client_id != self.config.client_id or not hmac.compare_digest(client_secret, secret):
            raise Unauthorized(CREDENTIALS_REJECTED)
        minutes = self.faults.token_expires_in_minutes
        lifetime = self.faults.token_lifetime_seconds
        expires = now + (lifetime if lifetime is not None else minutes * 60)
        token = self._jwt(client_id, now, expires)
        self.tokens[token] = expires
        return token, minutes

    def _jwt(self, subject: str, now: float, expires: float) -> str:
        def part(data: dict[str, Any]) -> str:
            raw = json.dumps(data, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        jti = uuid.UUID(int=self.rng.getrandbits(128), version=4).hex
        claims = {"sub": subject, "iat": int(now), "exp": int(expires), "jti": jti}
        body = part({"alg": "HS256", "typ": "JWT"}) + "." + part(claims)
        key = self.config.client_secret.get_secret_value().encode()
        sig = hmac.new(key, body.encode(), hashlib.sha256).digest()
        return f"{body}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"

    def check_token(self, token: str, now: float) -> None:
        """Raise Unauthorized unless the token was issued here and is still alive."""
        expires = self.tokens.get(token)
        if expires is None or now >= expires:
            raise Unauthorized(CREDENTIALS_REJECTED)

    # -- parties and counterparties (REFERENCE §3.2, §3.3) -----------------------------------

    def create_party(
        self, *, fullname: str, phone: str, email: str | None, country_code: str | None,
        now: float,
    ) -> Party:
        """A new party (duplicates by phone are allowed, as nothing says otherwise)."""
        party = Party(self._new_id("party"), fullname, phone, email, country_code, now)
        self.parties[party.id] = party
        self._changed("party", party.id, party)
        return party

    def get_party(self, party_id: int) -> Party:
        """The party, or Missing."""
        if party_id not in self.parties:
            raise Missing("Party not found")
        return self.parties[party_id]

    def create_counterparty(
        self, *, relationship_type: str, party_id: int | None, now: float
    ) -> Counterparty:
        """Link a party to the merchant."""
        if party_id is not None and party_id not in self.parties:
            raise Rejected(["body", "party_id"], f"Party {party_id} not found")
        cp = Counterparty(self._new_id("counterparty"), relationship_type, party_id, now)
        self.counterparties[cp.id] = cp
        self._changed("counterparty", cp.id, cp)
        return cp

    def get_counterparty(self, counterparty_id: int) -> Counterparty:
        """The counterparty, or Missing."""
        if counterparty_id not in self.counterparties:
            raise Missing("Counterparty not found")
        return self.counterparties[counterparty_id]

    def create_account(self, account: PaymentAccount) -> PaymentAccount:
        """Register a payment account whose fields routes have validated."""
        if account.party_id not in self.parties:
            raise Rejected(["body", "party_id"], f"Party {account.party_id} not found")
        account.id = self._new_id("account")
        self.accounts[account.id] = account
        self._changed("account", account.id, account)
        return account

    # -- payout sessions and executions (REFERENCE §3.6, §3.7) -------------------------------

    def create_payout_session(
        self, *, account_id: int, amount: Decimal, currency: str, loc_account: str,
        expires_at: float | None, now: float,
    ) -> PayoutSession:
        """Open a session; expires_at from an old-style client may only shorten its life."""
        account = self.accounts.get(account_id)
        if account is None:
            raise Rejected(["body", loc_account], f"Payment account {account_id} not found")
        if account.operation_type != "PAYOUT":
            raise Rejected(["body", loc_account], "Payment account is not a PAYOUT account")
        if currency not in fees.USD_RATES:
            raise Rejected(["body", "currency"], f"Currency {currency} is not supported")
        if fees.quantize(amount, currency) != amount:
            raise Rejected(["body", "amount"], f"Too many decimal places for {currency}")
        expiry = now + self.faults.session_lifetime_seconds
        if expires_at is not None:
            expiry = min(expiry, expires_at)
        session = PayoutSession(
            self._new_id("session"), self.config.wallet_id, account_id,
            fees.quantize(amount, currency), currency,
            now, expiry,
        )
        self.sessions[session.id] = session
        self._changed("session", session.id, session)
        return session

    def execute_payout(
        self, *, session_ref: str, account_ref: str, reference_id: str, now: float
    ) -> Execution:
        """Execute a session once; the same reference_id on the same session is idempotent."""
        session = self._session_for(session_ref)
        existing = self.executions.get(reference_id)
        if existing is not None:
            if existing.session_id == session.id and str(existing.payout_account_id) == account_ref:
                if self.faults.repeat_send_failed:  # an answer only: nothing is recorded
                    return replace(
                        existing, outcome=FAILED, immediate=True, settled=True,
                        gateway_message="Session has already been executed",
                        provider_transaction_id=None,
                    )
                return self.refresh(existing, now)
            raise Rejected(
                ["body", "reference_id"],
                "Duplicate reference_id: it already exists for another session or account",
                "duplicate",
            )
        if account_ref != str(session.payout_account_id):
            raise Rejected(["body", "payout_account_id"], "Does not match the session's account")
        if session.used_by is not None:
            raise Rejected(["body", "session_id"], "Session has already been executed")
        if now >= session.expires_at:
            raise Rejected(["body", "session_id"], "Session has expired")
        session.used_by = reference_id
        execution = self._new_execution(session, reference_id, now)
        self.executions[reference_id] = execution
        self._changed("session", session.id, session)
        self._changed("execution", reference_id, execution)
        return execution

    def _session_for(self, session_ref: str) -> PayoutSession:
        session = self.sessions.get(int(session_ref)) if session_ref.isdigit() else None
        if session is None:
            raise Rejected(["body", "session_id"], f"Session {session_ref} not found")
        return session

    def _new_execution(self, session: PayoutSession, reference_id: str, now: float) -> Execution:
        account = self.accounts[session.payout_account_id]
        party = self.parties.get(account.party_id)
        quote = fees.quote(
            base_amount=session.amount, base_currency=session.currency,
            target_currency=session.currency, payment_method=account.method,
            operation_type="PAYOUT", fee_bearer="PAYER",
        )
        # Outcome keyed by (seed, reference_id): replayable whatever the request order.
        draw = random.Random(f"{self.config.seed}:{reference_id}").random()
        fails = draw < self.faults.payout_failure_rate
        execution = Execution(
            reference_id=reference_id, session_id=session.id,
            payout_account_id=session.payout_account_id,
            phone=account.account_number or (party.phone if party else None),
            amount=session.amount, currency=session.currency, fee=quote.total_fee,
            created_at=now, pending_seconds=self.faults.pending_seconds,
            processing_seconds=self.faults.processing_seconds,
            outcome=FAILED if fails else COMPLETED,
        )
        available = self.balances.get(session.currency, Decimal(0))
        if execution.debit > available:
            execution.outcome, execution.immediate, execution.settled = FAILED, True, True
            execution.wallet_message = (
                f"Insufficient wallet balance: {execution.debit} {session.currency} needed, "
                f"{available} {session.currency} available"
            )
            return execution
        self.balances[session.currency] = available - execution.debit
        if fails:
            execution.gateway_message = "Payout rejected by the operator (sandbox failure rate)"
        else:
            execution.provider_transaction_id = f"SBX-{uuid.UUID(reference_id).hex[:12].upper()}"
        self._in_flight.append(execution)
        return self.refresh(execution, now)

    def refresh(self, execution: Execution, now: float) -> Execution:
        """Apply the terminal effects of an execution that has finished by `now`."""
        if not execution.settled and now >= execution.finished_at():
            execution.settled = True
            if execution.outcome == FAILED:  # the operator refused: money back to the wallet
                self.balances[execution.currency] += execution.debit
            self._changed("execution", execution.reference_id, execution)
        self._maybe_reverse(execution, now)
        return execution

    def _maybe_reverse(self, execution: Execution, now: float) -> None:
        """Issue 11: the faults' share of COMPLETED payouts is taken back (money returned to
        the wallet) `reversal_after_seconds` after completion; drawn per reference_id."""
        rate = self.faults.reversal_rate
        if not rate or execution.reversed_at is not None or execution.outcome != COMPLETED:
            return
        due = execution.finished_at() + self.faults.reversal_after_seconds
        if not execution.settled or now < due:
            return
        if random.Random(f"{self.config.seed}:{execution.reference_id}:reversal").random() < rate:
            execution.reversed_at = now
            execution.gateway_message = "Payout reversed by the operator after completion"
            self.balances[execution.currency] += execution.debit
            self._changed("execution", execution.reference_id, execution)

    def settle(self, now: float) -> None:
        """Refresh every execution still in flight (before balances are read)."""
        for execution in self._in_flight:
            self.refresh(execution, now)
        self._in_flight = [e for e in self._in_flight if not e.settled]

    def payout_status(self, reference_id: str, now: float) -> Execution:
        """The execution, or Missing while unknown or not yet visible (REFERENCE §4.3)."""
        execution = self.executions.get(reference_id)
        delay = self.faults.status_visibility_delay_seconds
        if execution is None or now < execution.created_at + delay:
            raise Missing("Transaction not found")
        return self.refresh(execution, now)


__all__ = [
    "CREDENTIALS_REJECTED", "Denied", "Missing", "Rejected", "SandboxError", "Store",
    "Unauthorized",
]
