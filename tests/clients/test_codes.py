"""Client codes: the display code people type or scan, and the keyed hash of the attributes
that finds a client who lost their card."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import string
from datetime import date

import pytest
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from saferoom.clients import codes
from saferoom.clients.codes import (
    DISPLAY_ALPHABET,
    CodeError,
    SchemeAttributes,
    canonical,
    likely_variants,
    linkage_hash,
    new_display_code,
    normalise_display_code,
    normalise_postcode_district,
)
from saferoom.sites.models import ClientCodeScheme

TODAY = date(2026, 6, 1)
NDTMS = ClientCodeScheme.INITIALS_DOB_SEX
ONTARIO = ClientCodeScheme.GENDER_LETTERS_YOB
CHOSEN = ClientCodeScheme.CHOSEN_NAME


# --- display codes ----------------------------------------------------------------------------


def test_a_new_display_code_is_three_and_three_characters_from_the_unambiguous_alphabet():
    for _ in range(200):
        code = new_display_code()
        assert re.fullmatch(rf"[{DISPLAY_ALPHABET}]{{3}}-[{DISPLAY_ALPHABET}]{{3}}", code)
        assert normalise_display_code(code) == code


def test_the_alphabet_leaves_out_characters_people_misread():
    assert not set("0O1IL2Z5S8B") & set(DISPLAY_ALPHABET)


def _sample_codes(n: int = 40) -> list[str]:
    return [new_display_code().replace("-", "") for _ in range(n)]


def test_the_check_character_catches_every_single_character_typo():
    for compact in _sample_codes():
        for position in range(6):
            for wrong in DISPLAY_ALPHABET:
                if wrong == compact[position]:
                    continue
                typo = compact[:position] + wrong + compact[position + 1 :]
                with pytest.raises(CodeError, match="typing mistake"):
                    normalise_display_code(typo)


def test_the_check_character_catches_every_swap_of_neighbouring_characters():
    for compact in _sample_codes():
        for position in range(5):
            a, b = compact[position], compact[position + 1]
            if a == b:
                continue
            swapped = compact[:position] + b + a + compact[position + 2 :]
            with pytest.raises(CodeError, match="typing mistake"):
                normalise_display_code(swapped)


def test_the_check_character_catches_all_typos_exhaustively_for_one_body():
    # Every body of one fixed prefix: no single substitution slips through anywhere.
    for tail in itertools.product(DISPLAY_ALPHABET, repeat=2):
        body = "K7F" + "".join(tail)
        code = body + codes._check_char(body)
        assert codes.is_valid_display_code(code)
        for position, wrong in itertools.product(range(6), DISPLAY_ALPHABET):
            if wrong != code[position]:
                assert not codes.is_valid_display_code(
                    code[:position] + wrong + code[position + 1 :]
                )


@pytest.mark.parametrize(
    "typed",
    ["{lower}", "{compact}", "{lower_compact}", "  {code}  ", "{spaced}", "{code}\r\n", "{dotted}"],
)
def test_normalise_accepts_what_a_scanner_or_a_tired_person_sends(typed):
    code = new_display_code()
    variants = {
        "code": code,
        "lower": code.lower(),
        "compact": code.replace("-", ""),
        "lower_compact": code.replace("-", "").lower(),
        "spaced": " ".join(code.replace("-", "")),
        "dotted": code.replace("-", "."),
    }
    assert normalise_display_code(typed.format(**variants)) == code


def test_letter_o_and_zero_are_read_as_q_and_one_and_i_as_j():
    body = "QQJJA"
    code = body + codes._check_char(body)
    assert normalise_display_code("0oi1a" + code[-1].lower()) == f"{code[:3]}-{code[3:]}"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "six letters and numbers"),
        ("K7F-29", "six letters and numbers"),
        ("K7F-29QQQ", "six letters and numbers"),
        ("B7F-29Q", "never use"),
        ("<script>alert(1)</script>", "six letters and numbers"),
        ("K7F-29Q" * 10, "six letters and numbers"),
        ("КЕА-АЕА", "six letters and numbers"),  # Cyrillic look-alikes
    ],
)
def test_normalise_refuses_what_is_not_a_code_with_a_message_saying_what_to_do(typed, message):
    with pytest.raises(CodeError, match=message):
        normalise_display_code(typed)


# --- postcode districts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "district"),
    [
        ("G1", "G1"),
        ("nr2", "NR2"),
        (" ec1a ", "EC1A"),
        ("M60", "M60"),
        ("sw1a", "SW1A"),
        ("W1A", "W1A"),
    ],
)
def test_a_postcode_district_is_upper_cased(typed, district):
    assert normalise_postcode_district(typed) == district


@pytest.mark.parametrize("typed", ["1G", "NR", "ABC12", "G1!", "<b>", "EC1AA", "99"])
def test_something_that_is_not_a_postcode_district_is_refused(typed):
    with pytest.raises(CodeError, match="first part of a postcode"):
        normalise_postcode_district(typed)


def test_a_full_postcode_is_refused_rather_than_kept():
    with pytest.raises(CodeError, match="not the full postcode"):
        normalise_postcode_district("NR2 4AB")


# --- attribute normalisation -------------------------------------------------------------------

ACCENTED = {"A": "ÁÀÂÄ", "E": "ÉÈÊË", "I": "ÍÌÎÏ", "O": "ÓÒÔÖ", "U": "ÚÙÛÜ", "C": "Ç", "N": "Ñ"}
separators = st.sampled_from([" ", "  ", "-", " - ", ".", "\t"])


@st.composite
def disguised(draw: st.DrawFn, word: str) -> str:
    """``word`` with random case and accents: what different people type for the same thing."""
    out = []
    for ch in word:
        choice = ch
        if ch.upper() in ACCENTED and draw(st.booleans()):
            choice = draw(st.sampled_from(ACCENTED[ch.upper()]))
        out.append(choice.lower() if draw(st.booleans()) else choice.upper())
    return "".join(out)


words = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), name_words=st.lists(words, min_size=1, max_size=3))
def test_a_chosen_name_normalises_the_same_across_case_accents_spaces_and_hyphens(data, name_words):
    plain = " ".join(name_words)
    if len("".join(name_words)) < 2:
        return
    parts = [data.draw(disguised(w)) for w in name_words]
    typed = parts[0]
    for part in parts[1:]:
        typed += data.draw(separators) + part
    typed = (
        data.draw(st.sampled_from(["", " ", "  "])) + typed + data.draw(st.sampled_from(["", " "]))
    )
    assert canonical(CHOSEN, SchemeAttributes(chosen_name=typed), today=TODAY) == canonical(
        CHOSEN, SchemeAttributes(chosen_name=plain), today=TODAY
    )


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    first=st.sampled_from(string.ascii_uppercase),
    last=st.sampled_from(string.ascii_uppercase),
)
def test_initials_normalise_the_same_across_case_accents_spaces_dots_and_hyphens(data, first, last):
    typed = (
        data.draw(st.sampled_from(["", " "]))
        + data.draw(disguised(first))
        + data.draw(st.sampled_from(["", " ", ".", "-", ". "]))
        + data.draw(disguised(last))
        + data.draw(st.sampled_from(["", ".", " "]))
    )
    dob = date(1987, 3, 14)
    assert canonical(
        NDTMS, SchemeAttributes(initials=typed, date_of_birth=dob, sex="male"), today=TODAY
    ) == (f"{first}{last}|1987-03-14|M")


@settings(max_examples=100, deadline=None)
@given(data=st.data(), letters=st.text(alphabet=string.ascii_uppercase, min_size=4, max_size=4))
def test_ontario_letters_normalise_the_same_across_case_accents_and_spaces(data, letters):
    typed = data.draw(separators).join(data.draw(disguised(ch)) for ch in letters)
    attrs = SchemeAttributes(sex="female", letters=typed, year_of_birth=1990)
    assert canonical(ONTARIO, attrs, today=TODAY) == f"F|{letters}|1990"


def test_attributes_that_cannot_make_a_code_say_what_is_wrong():
    with pytest.raises(CodeError, match="two letters"):
        canonical(
            NDTMS,
            SchemeAttributes(initials="Q", date_of_birth=date(1987, 3, 14), sex="male"),
            today=TODAY,
        )
    with pytest.raises(CodeError, match="between 1926 and 2016"):
        canonical(
            NDTMS,
            SchemeAttributes(initials="QZ", date_of_birth=date(2026, 7, 1), sex="male"),
            today=TODAY,
        )
    with pytest.raises(CodeError, match="between"):
        canonical(
            ONTARIO, SchemeAttributes(sex="male", letters="ABCD", year_of_birth=1800), today=TODAY
        )
    with pytest.raises(CodeError, match="four letters"):
        canonical(
            ONTARIO, SchemeAttributes(sex="male", letters="AB1", year_of_birth=1990), today=TODAY
        )
    with pytest.raises(CodeError, match="at most 60"):
        canonical(CHOSEN, SchemeAttributes(chosen_name="x" * 61), today=TODAY)


def test_likely_variants_are_the_mistakes_people_make_re_entering_their_details():
    attrs = SchemeAttributes(initials="QZ", date_of_birth=date(1987, 3, 4), sex="female")
    assert set(likely_variants(NDTMS, attrs, today=TODAY)) == {
        "ZQ|1987-03-04|F",
        "QZ|1987-04-03|F",
    }
    ontario = SchemeAttributes(sex="female", letters="QZXW", year_of_birth=1987)
    assert set(likely_variants(ONTARIO, ontario, today=TODAY)) == {"F|QZXW|1986", "F|QZXW|1988"}


# --- the keyed hash -----------------------------------------------------------------------------


def test_the_linkage_hash_changes_with_the_key():
    text = "QZ|1987-03-14|F"
    with override_settings(LINKAGE_KEY="a" * 40):
        first = linkage_hash(1, NDTMS, text)
    with override_settings(LINKAGE_KEY="b" * 40):
        second = linkage_hash(1, NDTMS, text)
    assert first != second
    assert re.fullmatch(r"[0-9a-f]{64}", first)


def test_the_linkage_hash_is_scoped_to_a_network_and_a_scheme():
    text = "QZ|1987-03-14|F"
    assert linkage_hash(1, NDTMS, text) != linkage_hash(2, NDTMS, text)
    assert linkage_hash(1, NDTMS, text) != linkage_hash(1, ONTARIO, text)


def test_without_the_key_hashing_every_guess_does_not_find_the_client():
    """Someone with a database dump but not the key tries every initials pair for a known
    birth date and sex: plain SHA-256 and HMAC under a guessed key both miss."""
    with override_settings(LINKAGE_KEY="the-real-key-kept-outside-the-database-0123"):
        stored = linkage_hash(1, NDTMS, "QZ|1987-03-14|F")
    guesses = [
        f"{a}{b}|1987-03-14|F" for a in string.ascii_uppercase for b in string.ascii_uppercase
    ]
    guessed_keys = ["", "saferoom", "secret", "changeme", "a" * 32]
    hits = []
    for guess in guesses:
        message = f"v1|1|{NDTMS}|{guess}".encode()
        candidates = [
            hashlib.sha256(guess.encode()).hexdigest(),
            hashlib.sha256(message).hexdigest(),
            *(hmac.new(k.encode(), message, hashlib.sha256).hexdigest() for k in guessed_keys),
        ]
        if stored in candidates:
            hits.append(guess)
    assert hits == []
    # With the key, the same search finds exactly the right guess: the test can fail.
    with override_settings(LINKAGE_KEY="the-real-key-kept-outside-the-database-0123"):
        found = [g for g in guesses if linkage_hash(1, NDTMS, g) == stored]
    assert found == ["QZ|1987-03-14|F"]
