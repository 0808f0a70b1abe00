"""Recognise a payout sheet's header row and map its headers to canonical column names."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

REQUIRED_COLUMNS: tuple[str, ...] = ("name", "phone", "amount")
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "currency",
    "country",
    "external_id",
    "email",
    "note",
    "method",
    "provider",
)
CANONICAL_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

# DESIGN.md "The sheet": canonical column -> accepted headers, before normalisation.
_ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "name",
        "full name",
        "fullname",
        "beneficiary",
        "beneficiary name",
        "recipient",
        "recipient name",
        "employee name",
        "employee",
        "staff name",
        "payee",
        "payee name",
        "employee full name",
        "name of employee",
        "staff full name",
        "account name",
        "account holder",
        "names",
    ),
    "phone": (
        "phone",
        "msisdn",
        "mobile",
        "mobile number",
        "phone number",
        "phone no",
        "momo number",
        "momo",
        "wallet",
        "wallet number",
        "telephone",
        "tel",
        "mobile money number",
        "mobile money no",
        "mobile money",
        "mobile money account",
        "momo no",
        "momo account",
        "momo phone",
        "momo phone number",
        "mobile no",
        "mobile phone",
        "mobile phone number",
        "cell",
        "cell phone",
        "cellphone",
        "cell no",
        "telephone number",
        "tel no",
        "phone number momo",
        "wallet no",
        "msisdn number",
    ),
    "amount": (
        "amount",
        "net pay",
        "net salary",
        "pay",
        "net amount",
        "amount to pay",
        "salary",
        "net",
        "net payable",
        "amount payable",
        "payment amount",
        "amount paid",
        "amount due",
        "take home",
        "take home pay",
        "total net pay",
        "net pay amount",
        "salary amount",
        "disbursement amount",
    ),
    "currency": ("currency", "ccy", "cur", "currency code"),
    "country": ("country", "country code", "iso country"),
    "external_id": (
        "external id",
        "external_id",
        "employee id",
        "staff id",
        "reference",
        "employee no",
        "employee number",
        "staff no",
        "staff number",
        "payroll id",
        "emp id",
        "ref",
        "emp no",
        "emp number",
        "emp code",
        "employee code",
        "staff code",
        "staff id no",
        "employee id no",
        "id",
        "id no",
        "payroll no",
        "payroll number",
    ),
    "email": ("email", "e-mail", "email address", "e-mail address"),
    "note": ("note", "notes", "memo", "description", "remarks", "comment"),
    "method": ("method", "payment method"),
    "provider": ("provider", "operator", "network", "mno"),
}

# No header is longer; a longer cell is text, never matched (nor run through the patterns
# below, whose cost would grow with its square on a cell of "((((…").
MAX_HEADER_CHARS = 100
_SHORT_CHARS = 60
# French (Rwanda is francophone too, as are many payroll tools) and Kinyarwanda headers,
# written without accents: headers are compared with accents folded ("Téléphone" = "telephone").
_MORE_ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "nom", "noms", "nom complet", "nom et prenom", "nom et prenoms", "noms et prenoms",
        "prenom et nom", "beneficiaire", "nom du beneficiaire", "employe", "nom de l employe",
        "nom de l agent", "agent", "amazina", "izina", "amazina yombi", "izina ry umukozi",
    ),
    "phone": (
        "telephone", "numero de telephone", "no de telephone", "n de telephone",
        "num telephone", "tel mobile", "portable", "numero momo", "numero mobile money",
        "numero de portable", "telefoni", "nimero ya telefoni", "numero ya telefoni",
        "nomero ya telefoni", "telefone", "mobile money phone", "phone no", "mobile money phone no",
    ),
    "amount": (
        "montant", "montant net", "salaire", "salaire net", "net a payer", "montant a payer",
        "montant a verser", "montant paye", "amafaranga", "umushahara", "umushahara utahanwa",
        "amafaranga yo kwishyura", "net salary paid", "amount to be paid",
    ),
    "currency": ("devise", "monnaie", "ifaranga"),
    "country": ("pays", "igihugu"),
    "external_id": ("matricule", "n matricule", "no matricule", "identifiant", "code employe"),
    "email": ("courriel", "adresse email", "adresse e mail", "adresse electronique"),
    "note": ("commentaire", "remarque", "remarques", "observation", "observations", "motif"),
    "provider": ("operateur", "reseau"),
}
for _column, _extra in _MORE_ALIASES.items():
    _ALIASES[_column] = _ALIASES[_column] + _extra

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]")


def _squash(text: str) -> str:
    if not text.isascii():  # "Téléphone", "Numéro": accents folded, "ß"-like letters kept out
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NON_ALNUM.sub("", text.lower())


_LOOKUP: dict[str, str] = {
    _squash(alias): column for column, aliases in _ALIASES.items() for alias in aliases
}


def short(text: str, limit: int = _SHORT_CHARS) -> str:
    """`text` cut to `limit` characters (with "…" and its full length), for messages."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def canonical_column(header: str | None) -> str | None:
    """The canonical column a header names (case, space and punctuation ignored), or None."""
    if header is None or len(header) > MAX_HEADER_CHARS:
        return None
    column = _LOOKUP.get(_squash(header))
    if column is None:
        # "Net pay (USD)", "Phone [MoMo]": the bracketed part is a unit or a hint.
        column = _LOOKUP.get(_squash(_BRACKETED.sub("", header)))
    return column


@dataclass(frozen=True)
class HeaderMatch:
    """Where the header row is and which sheet column holds each canonical column."""

    index: int  # 0-based index of the header row among the rows scanned
    columns: dict[str, int]  # canonical name -> 0-based column position
    headers: dict[str, str]  # canonical name -> the header text as written
    ignored: tuple[str, ...]  # headers that name no known column
    duplicates: tuple[tuple[str, str, str], ...]  # (canonical, first header, second header)

    @property
    def missing(self) -> tuple[str, ...]:
        """Required columns the header lacks."""
        return tuple(c for c in REQUIRED_COLUMNS if c not in self.columns)


def match_header(cells: Sequence[str | None], index: int) -> HeaderMatch:
    """Map one candidate header row's cells to canonical columns."""
    return HeaderMatch(index, *map_cells(cells, canonical_column))


def map_cells(
    cells: Sequence[str | None], column_of: Callable[[str], str | None]
) -> tuple[dict[str, int], dict[str, str], tuple[str, ...], tuple[tuple[str, str, str], ...]]:
    """A header row's cells as (column -> position, column -> header text, ignored headers,
    (column, first, second) for a column named twice), by `column_of` (payout or collection
    columns)."""
    columns: dict[str, int] = {}
    headers: dict[str, str] = {}
    ignored: list[str] = []
    duplicates: list[tuple[str, str, str]] = []
    for position, cell in enumerate(cells):
        text = (cell or "").strip()
        if not text:
            continue
        column = column_of(text)
        if column is None:
            ignored.append(text)
        elif column in columns:
            duplicates.append((column, headers[column], text))
        else:
            columns[column] = position
            headers[column] = text
    return columns, headers, tuple(ignored), tuple(duplicates)


def find_header(rows: Sequence[Sequence[str | None]]) -> HeaderMatch | None:
    """The first row naming every required column, else the row naming most columns, else None.

    A title block above the header ("Acme Ltd payroll, November") names no columns, so it
    is passed over.
    """
    best: HeaderMatch | None = None
    for index, cells in enumerate(rows):
        match = match_header(cells, index)
        if not match.missing:
            return match
        if len(match.columns) >= 2 and (best is None or len(match.columns) > len(best.columns)):
            best = match
    return best
