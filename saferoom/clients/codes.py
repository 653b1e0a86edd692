"""Client codes: a random display code to type or scan, and a keyed hash (HMAC) of the network's
code-scheme attributes to find a returning client who has lost their card.

The attributes themselves (initials, date of birth, chosen name) are normalised, hashed with
SAFEROOM_LINKAGE_KEY (and re-keyed under each later layer, ADR 3) and discarded: the database
never holds them, and without the keys the hashes cannot be matched against guesses
(security-reliability.md §3).
"""

from __future__ import annotations

import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date
from hashlib import sha256

from django.conf import settings
from django.utils.translation import gettext as _

from saferoom.sites.models import ClientCodeScheme

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: characters that are misread on a card or a tired screen.
DISPLAY_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
_RANDOM_LENGTH = 5


class CodeError(ValueError):
    """An attribute or code that cannot be used; the message says what to fix."""


# Position weights for the check character. The alphabet has 25 characters and 25 is not
# prime, so every weight, and every difference between neighbouring weights, must be coprime
# with 25: then any single wrong character and any swap of two neighbours (the check character
# included) changes the weighted sum and is caught. Plain 1..6 would miss some errors at weight 5.
_WEIGHTS = (1, 2, 3, 4, 6, 7)
_BASE = len(DISPLAY_ALPHABET)


def _weighted_sum(chars: str) -> int:
    return sum(w * DISPLAY_ALPHABET.index(ch) for w, ch in zip(_WEIGHTS, chars, strict=False))


def _check_char(body: str) -> str:
    """The character that makes the weighted sum of all six characters a multiple of 25."""
    inverse = pow(_WEIGHTS[-1], -1, _BASE)
    return DISPLAY_ALPHABET[(-_weighted_sum(body) * inverse) % _BASE]


def is_valid_display_code(code: str) -> bool:
    """True when ``code`` (canonical or compact form) passes the check character."""
    compact = code.replace("-", "")
    if len(compact) != _RANDOM_LENGTH + 1 or any(ch not in DISPLAY_ALPHABET for ch in compact):
        return False
    return _weighted_sum(compact) % _BASE == 0


def new_display_code() -> str:
    """A fresh random code such as ``K7F-29Q``: five random characters and a check character."""
    body = "".join(secrets.choice(DISPLAY_ALPHABET) for _ in range(_RANDOM_LENGTH))
    code = body + _check_char(body)
    return f"{code[:3]}-{code[3:]}"


# Longest input worth looking at: a scanner may add a prefix, a person may add spaces.
MAX_TYPED_CODE_LENGTH = 20


def normalise_display_code(typed: str) -> str:
    """Accept what staff type or a scanner sends (any case, spaces, hyphens, common misreads)
    and return the canonical ``XXX-XXX`` form, or raise CodeError."""
    if len(typed) > MAX_TYPED_CODE_LENGTH:
        raise CodeError(_("A client code has six letters and numbers, like K7F-29Q."))
    cleaned = "".join(ch for ch in typed.upper() if ch.isascii() and ch.isalnum())
    cleaned = cleaned.translate(str.maketrans("0O1I", "QQJJ"))
    if len(cleaned) != _RANDOM_LENGTH + 1:
        raise CodeError(_("A client code has six letters and numbers, like K7F-29Q."))
    if any(ch not in DISPLAY_ALPHABET for ch in cleaned):
        raise CodeError(
            _(
                "Client codes never use the characters B, L, S, Z, 2, 5 or 8. "
                "Check the card and try again."
            )
        )
    if not is_valid_display_code(cleaned):
        raise CodeError(_("That code has a typing mistake in it. Check the card and try again."))
    return f"{cleaned[:3]}-{cleaned[3:]}"


def letters_only(value: str) -> str:
    """Upper-case letters only, with accents removed (É → E, ß → SS)."""
    decomposed = unicodedata.normalize("NFKD", value.upper().replace("ß", "SS"))
    return "".join(ch for ch in decomposed if "A" <= ch <= "Z")


SEX_CODES = {"female": "F", "male": "M", "other": "X"}


@dataclass(frozen=True)
class SchemeAttributes:
    """What a client gives at the desk, before it is normalised and hashed."""

    initials: str = ""
    date_of_birth: date | None = None
    sex: str = ""
    letters: str = ""
    year_of_birth: int | None = None
    chosen_name: str = ""


def canonical(scheme: str, attrs: SchemeAttributes, *, today: date) -> str:
    """The normalised text that is hashed. Raises CodeError naming what is missing or wrong."""
    if scheme == ClientCodeScheme.INITIALS_DOB_SEX:
        initials = letters_only(attrs.initials)
        if len(initials) != 2:
            raise CodeError(_("Initials are two letters: first name and surname, like JS."))
        dob = attrs.date_of_birth
        if dob is None:
            raise CodeError(_("Enter the date of birth."))
        check_birth_year(dob.year, today=today)
        if dob > today:
            raise CodeError(_("The date of birth is in the future."))
        sex = SEX_CODES.get(attrs.sex)
        if sex is None:
            raise CodeError(_("Choose female, male or other for sex."))
        return f"{initials}|{dob.isoformat()}|{sex}"
    if scheme == ClientCodeScheme.GENDER_LETTERS_YOB:
        gender = SEX_CODES.get(attrs.sex)
        if gender is None:
            raise CodeError(_("Choose female, male or other for gender."))
        letters = letters_only(attrs.letters)
        if len(letters) != 4:
            raise CodeError(_("The code needs exactly four letters."))
        if attrs.year_of_birth is None:
            raise CodeError(_("Enter the year of birth."))
        check_birth_year(attrs.year_of_birth, today=today)
        return f"{gender}|{letters}|{attrs.year_of_birth:04d}"
    if scheme == ClientCodeScheme.CHOSEN_NAME:
        decomposed = unicodedata.normalize("NFKD", attrs.chosen_name.casefold())
        words = "".join(
            ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.combining(ch)
        )
        name = " ".join(words.split())
        if len(name) < 2:
            raise CodeError(_("A chosen name needs at least two letters."))
        if len(name) > 60:
            raise CodeError(_("A chosen name can be at most 60 letters."))
        return name
    raise CodeError(_("This network's client-code scheme is not known."))


def check_birth_year(year: int, *, today: date) -> None:
    if not (today.year - 100 <= year <= today.year - 10):
        raise CodeError(
            _("The year of birth must be between %(low)s and %(high)s.")
            % {"low": today.year - 100, "high": today.year - 10}
        )


def linkage_keys() -> list[str]:
    """SAFEROOM_LINKAGE_KEY, then each later layer (SAFEROOM_LINKAGE_KEY_LAYERS) in order."""
    return [settings.LINKAGE_KEY, *settings.LINKAGE_KEY_LAYERS]


def linkage_depth() -> int:
    """How many keys a hash is layered under when stored now."""
    return 1 + len(settings.LINKAGE_KEY_LAYERS)


def wrap_linkage_hash(digest: str, *, layer: int) -> str:
    """A hash of ``layer - 1`` layers re-keyed under the key of ``layer`` (2 or more): what
    ``saferoom rotate-linkage-key`` does to a stored hash, without the attributes."""
    key = linkage_keys()[layer - 1]
    return hmac.new(key.encode(), f"v{layer}|{digest}".encode(), sha256).hexdigest()


def linkage_hashes(network_id: int, scheme: str, text: str) -> list[str]:
    """The hash of the canonical attributes at every depth: HMAC-SHA256 under the linkage key,
    then that hash re-keyed under each later layer in turn. A client stored with ``n`` layers
    holds the ``n``-th, so one with only an old key can test no guess against a re-keyed hash."""
    message = f"v1|{network_id}|{scheme}|{text}".encode()
    digests = [hmac.new(settings.LINKAGE_KEY.encode(), message, sha256).hexdigest()]
    for layer in range(2, linkage_depth() + 1):
        digests.append(wrap_linkage_hash(digests[-1], layer=layer))
    return digests


def linkage_hash(network_id: int, scheme: str, text: str) -> str:
    """The keyed hash a registration stores: under every configured key, none of them stored."""
    return linkage_hashes(network_id, scheme, text)[-1]


def likely_variants(scheme: str, attrs: SchemeAttributes, *, today: date) -> list[str]:
    """Canonical texts of the mistakes people commonly make re-entering their attributes
    (initials swapped, day and month swapped), so registration can warn of a likely duplicate
    without storing the attributes."""
    variants: list[str] = []
    if scheme == ClientCodeScheme.INITIALS_DOB_SEX and attrs.date_of_birth is not None:
        dob = attrs.date_of_birth
        swapped_initials = SchemeAttributes(
            initials=letters_only(attrs.initials)[::-1], date_of_birth=dob, sex=attrs.sex
        )
        variants.append(canonical(scheme, swapped_initials, today=today))
        if dob.day <= 12 and dob.day != dob.month:
            swapped_dob = SchemeAttributes(
                initials=attrs.initials,
                date_of_birth=dob.replace(day=dob.month, month=dob.day),
                sex=attrs.sex,
            )
            variants.append(canonical(scheme, swapped_dob, today=today))
    if scheme == ClientCodeScheme.GENDER_LETTERS_YOB and attrs.year_of_birth is not None:
        for year in (attrs.year_of_birth - 1, attrs.year_of_birth + 1):
            try:
                variants.append(
                    canonical(
                        scheme,
                        SchemeAttributes(sex=attrs.sex, letters=attrs.letters, year_of_birth=year),
                        today=today,
                    )
                )
            except CodeError:
                continue
    own = canonical(scheme, attrs, today=today)
    return [v for v in dict.fromkeys(variants) if v != own]


def year_of_birth(scheme: str, attrs: SchemeAttributes) -> int | None:
    if scheme == ClientCodeScheme.INITIALS_DOB_SEX and attrs.date_of_birth is not None:
        return attrs.date_of_birth.year
    return attrs.year_of_birth


# A UK postcode district (the outward code): G1, NR2, M60, EC1A, SW1A.
_OUTWARD_CODE = re.compile(r"[A-Z]{1,2}[0-9][0-9A-Z]?")
_FULL_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][0-9A-Z]?[0-9][A-Z]{2}")


def normalise_postcode_district(typed: str) -> str:
    """The first part of a UK postcode, upper-cased (``nr2`` → ``NR2``), or raise CodeError.
    A full postcode is refused rather than cut down: staff should not ask for one."""
    cleaned = "".join(typed.split()).upper()
    if _FULL_POSTCODE.fullmatch(cleaned):
        raise CodeError(
            _("Enter only the first part of the postcode, like NR2, not the full postcode.")
        )
    if not _OUTWARD_CODE.fullmatch(cleaned):
        raise CodeError(
            _("A postcode district is the first part of a postcode, like G1, NR2 or EC1A.")
        )
    return cleaned
