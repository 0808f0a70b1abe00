"""paybatch's exception tree: every failure a user can meet, and whether retrying can help.

    BatchError                       base of everything paybatch raises on purpose
    ├── InputError                   bad input or configuration; nothing was sent (exit 1)
    │   ├── SheetError               the file cannot be read (missing, empty, corrupt, no header)
    │   ├── InvalidRowsError         rows failed validation and --skip-invalid was not given
    │   ├── ConfigError              missing credentials, contradictory options, unsafe base URL
    │   └── ApprovalRefusedError     an approval that may not be given (the maker's own, ...)
    ├── LedgerError                  the ledger refused or could not do something
    │   ├── BatchConflictError       a name reused for other rows, or the same payouts again
    │   ├── BatchLockedError         another `run` holds this batch
    │   ├── LedgerDamagedError       the file fails its checks or holds unreadable values
    │   └── TransitionError          a row was not in the state a transition expected
    ├── AbortedError                 the user declined, or a guard (--max-total) tripped (exit 5)
    │   └── ApprovalError            approvals missing or void: the batch may not be paid yet
    ├── StoppedAfterSendingError     a failure after payouts left: rows in flight (exit 4)
    └── ApiError                     the Dollr API answered with an error, or did not answer
        ├── AuthError        Terminal   401 after one refresh, or bad credentials
        │   ├── CredentialsError        the token call itself was refused (also a ConfigError)
        │   └── TokenUnavailableError   no token after the token call's own retries
        ├── ForbiddenError   Terminal   403: merchant not verified, passcode problem
        ├── NotFoundError    Terminal   404: unknown id or reference_id
        ├── ApiValidationError Terminal 422 with FastAPI's `detail` list
        │   └── UnroutablePhoneError    mmo-provider-info cannot route this phone
        ├── RateLimitedError Transient  429, with `retry_after` seconds when given
        ├── ServerError      Transient  5xx: the request may or may not have been processed
        └── NetworkError     Transient  no answer at all (timeout, reset): outcome unknown

`Terminal` and `Transient` are mixins: retry and state code branch on `isinstance`, never on
message text. Misuse of the library stays `ValueError` / `TypeError`, outside this tree.
"""

from __future__ import annotations

from typing import Any


class Terminal:
    """Mixin: repeating the same request cannot succeed."""


class Transient:
    """Mixin: the same request may succeed later."""


class BatchError(Exception):
    """Base class of every error paybatch raises on purpose."""


class InputError(BatchError):
    """Bad input or configuration, found before anything was sent."""


class SheetError(InputError):
    """A payout sheet that cannot be read at all."""

    def __init__(self, file: str, message: str) -> None:
        super().__init__(f"{file}: {message}")
        self.file = file


class InvalidRowsError(InputError):
    """Some rows are invalid, so no row is sent (unless --skip-invalid)."""

    def __init__(self, file: str, invalid: int, rejected_out: object = None) -> None:
        where = (
            f"they are in {rejected_out}, with what to fix" if rejected_out is not None
            else "run `paybatch validate` for the list"
        )
        super().__init__(
            f"{file}: {invalid} invalid row(s); fix them or pass --skip-invalid ({where})"
        )
        self.file = file
        self.invalid = invalid


class ConfigError(InputError):
    """Missing or contradictory configuration (credentials, options, base URL)."""


class ApprovalRefusedError(InputError):
    """An approval or revocation that may not be made: the maker's own, a key the policy does
    not list, a plan that changed since it was reviewed, nothing to revoke."""


class LedgerError(BatchError):
    """The ledger could not do what was asked."""


class BatchConflictError(LedgerError):
    """A batch name reused for different rows, or a repeat of a batch already made."""

    def __init__(self, message: str, batch_id: int | None = None) -> None:
        super().__init__(message)
        self.batch_id = batch_id


class BatchLockedError(LedgerError):
    """Another process is running this batch."""

    def __init__(self, message: str, batch_id: int | None = None) -> None:
        super().__init__(message)
        self.batch_id = batch_id


class LedgerDamagedError(LedgerError):
    """The ledger file is damaged (a failed check, or a value that cannot be read): nothing
    more is done with it; a backup is restored (README "Restoring the ledger")."""

    def __init__(
        self, where: str, detail: str, *, path: str | None = None, backup: str | None = None
    ) -> None:
        ledger = f"ledger {path}" if path else "ledger"
        restore = f"restore a backup ({backup} is the newest)" if backup else "restore a backup"
        super().__init__(
            f"{ledger} is damaged at {where} ({detail}); nothing is done with it: {restore}, "
            "see README 'Restoring the ledger'"
        )
        self.where, self.detail, self.path, self.backup = where, detail, path, backup


class StoppedAfterSendingError(BatchError):
    """A run failed after payouts had been sent: its rows are in flight, not "nothing sent";
    running it again settles them by reference_id (exit 4, never 1)."""

    def __init__(self, cause: BaseException) -> None:
        why = str(cause) or type(cause).__name__
        super().__init__(
            f"stopped after payouts were sent: {why}; rows may be in flight: fix the cause and "
            "run the same command again (it settles them first; nobody is paid twice)"
        )
        self.cause = cause


class AbortedError(BatchError):
    """The run was stopped on purpose: confirmation declined or a guard tripped."""


class ApprovalError(AbortedError):
    """The batch lacks the approvals its policy asks for, or its plan changed since: nothing
    is sent (exit 5)."""

    def __init__(self, message: str, batch_id: int | None = None) -> None:
        super().__init__(message)
        self.batch_id = batch_id


class ApiError(BatchError):
    """An error answer from the Dollr API, or no answer at all."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        endpoint: str | None = None,
        detail: Any = None,
        request_id: str | None = None,
        reference_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.endpoint = endpoint
        self.detail = detail
        self.request_id = request_id
        self.reference_id = reference_id


class AuthError(ApiError, Terminal):
    """401: credentials rejected even after a fresh token."""


class CredentialsError(AuthError, ConfigError):
    """The token call was refused: client id or secret wrong (bad configuration, exit 1)."""


class TokenUnavailableError(AuthError):
    """No token: the token call still failed after its own retries; nothing else was sent.

    Terminal for the request that needed it (its retries would only repeat the token
    call's), and batch-wide like every AuthError: stop, run again later.
    """


class ForbiddenError(ApiError, Terminal):
    """403: the merchant may not do this (verification, passcode)."""


class NotFoundError(ApiError, Terminal):
    """404: no such resource or reference_id."""


class ApiValidationError(ApiError, Terminal):
    """422: the API rejected the request's content or state; `detail` holds its list."""


class UnroutablePhoneError(ApiValidationError):
    """The API found no mobile-money operator (method and provider) for a phone."""


class RateLimitedError(ApiError, Transient):
    """429: too many requests; wait `retry_after` seconds when given."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(ApiError, Transient):
    """5xx: the server failed; the request may or may not have been processed."""


class NetworkError(ApiError, Transient):
    """No answer (timeout, connection reset or refused): the outcome is unknown."""


class TransitionError(LedgerError):
    """A row was not in the state a transition expected (another process moved it, or a bug)."""

    def __init__(self, message: str, row_id: int | None = None) -> None:
        super().__init__(message)
        self.row_id = row_id


class NotNowError(BatchError):
    """An operation cannot start this row now (e.g. its payer has another request pending):
    the runner leaves it as it is for a later run, sending nothing."""
