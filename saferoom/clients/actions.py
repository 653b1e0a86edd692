"""Every write to the client registry: registration (with duplicate warning), first-visit
intake, bans and merges; and the look-ups the desk uses to find a returning client.

The code-scheme attributes a client gives (initials, date of birth, chosen name) exist here only
long enough to be normalised and hashed with the linkage key. They are never saved, never
written to the audit trail and never used in an idempotency fingerprint: only the keyed hash is.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from saferoom.clients import codes
from saferoom.clients.access import may_set_ban, resolve_merged
from saferoom.clients.codes import CodeError, SchemeAttributes
from saferoom.clients.models import (
    Ban,
    Client,
    ClientMerge,
    Gender,
    Intake,
    OtherwiseLocation,
    active_bans_q,
    enabled_intake_questions,
)
from saferoom.clients.signals import clients_merged
from saferoom.core import audit, idempotency, versioning
from saferoom.core.errors import ActionRefused
from saferoom.core.models import User
from saferoom.core.roles import Role
from saferoom.sites.access import roles_at
from saferoom.sites.models import IntakeQuestion, Network, Site

# How many fresh random codes to try before giving up (a clash is about one in ten million).
_CODE_ATTEMPTS = 10
MAX_REASON_LENGTH = 200
MAX_YEARS_OF_USE = 80


class LikelyDuplicate(ActionRefused):
    """The attributes (or a likely mistyping of them) match a client already registered."""

    def __init__(self, candidates: list[Client]) -> None:
        super().__init__(
            _(
                "This person may already be registered. Check the codes below with them: pick "
                "theirs, or confirm that they are a different person."
            ),
            code="likely_duplicate",
        )
        self.candidates = candidates


# ---------------------------------------------------------------------------------------------
# Finding a client


def _local_today(site: Site, at: datetime) -> date:
    return site.local(at).date()


def _canonical(network: Network, attrs: SchemeAttributes, *, today: date) -> str:
    try:
        return codes.canonical(network.client_code_scheme, attrs, today=today)
    except CodeError as error:
        raise ActionRefused(str(error), code="bad_attributes") from None


def attributes_hashes(*, network: Network, attrs: SchemeAttributes, today: date) -> list[str]:
    """The keyed hash of the attributes under the network's scheme, at every depth of the
    linkage key (``codes.linkage_hashes``; CodeError if the attributes are unusable)."""
    text = codes.canonical(network.client_code_scheme, attrs, today=today)
    return codes.linkage_hashes(network.pk, network.client_code_scheme, text)


def _stored_as_any_of(chains: list[list[str]]) -> Q:
    """Clients whose stored hash is one of these (``codes.linkage_hashes``) at the depth the
    client's hash has: during a key rotation some hashes have one layer fewer than others."""
    matches = Q()
    for depth in range(1, len(chains[0]) + 1):
        digests = [chain[depth - 1] for chain in chains]
        matches |= Q(linkage_layers=depth, linkage_hash__in=digests)
    return matches


def _resolved_unique(clients: list[Client]) -> list[Client]:
    seen: dict[int, Client] = {}
    for client in clients:
        kept = resolve_merged(client)
        seen.setdefault(kept.pk, kept)
    return list(seen.values())


def find_by_code(*, network: Network, typed_code: str) -> Client | None:
    """The client whose card shows ``typed_code`` (in any case, with or without spaces and
    hyphen), following merges. Raises CodeError for something that is not a code at all."""
    code = codes.normalise_display_code(typed_code)
    client = (
        Client.objects.select_related("registered_site")
        .filter(network=network, display_code=code)
        .first()
    )
    return None if client is None else resolve_merged(client)


def find_by_attributes(
    *, network: Network, attrs: SchemeAttributes, today: date | None = None
) -> list[Client]:
    """Clients whose attributes hash exactly to these, following merges (CodeError if the
    attributes are incomplete or implausible)."""
    today = today or timezone.localdate()
    chain = attributes_hashes(network=network, attrs=attrs, today=today)
    matches = Client.objects.select_related("registered_site").filter(
        _stored_as_any_of([chain]), network=network
    )
    return _resolved_unique(list(matches.order_by("registered_at", "pk")))


def duplicate_candidates(*, network: Network, attrs: SchemeAttributes, today: date) -> list[Client]:
    """Registered clients whose attributes match exactly, or match a likely mistyping of them
    (initials swapped, day and month swapped, year of birth one out). Exact matches first."""
    scheme = network.client_code_scheme
    own = attributes_hashes(network=network, attrs=attrs, today=today)
    variants = [
        codes.linkage_hashes(network.pk, scheme, text)
        for text in codes.likely_variants(scheme, attrs, today=today)
    ]
    matches = list(
        Client.objects.select_related("registered_site")
        .filter(_stored_as_any_of([own, *variants]), network=network)
        .order_by("registered_at", "pk")
    )
    exact = set(enumerate(own, start=1))
    matches.sort(key=lambda c: (c.linkage_layers, c.linkage_hash) not in exact)
    return _resolved_unique(matches)


def active_bans(*, client: Client, site: Site, at: datetime | None = None) -> list[Ban]:
    """Bans in force at ``at`` at this site or across the network. Expired bans lapse."""
    at = at or timezone.now()
    return list(
        Ban.objects.filter(active_bans_q(at), client=client)
        .filter(Q(site=site) | Q(site__isnull=True))
        .select_related("site")
        .order_by("-starts_at", "-pk")
    )


# ---------------------------------------------------------------------------------------------
# Registration and intake


def _check_gender(gender: str) -> None:
    if gender not in Gender.values:
        raise ActionRefused(_("Choose one of the genders offered."), code="bad_gender")


def clean_intake_answers(
    *, network: Network, answers: dict[str, Any], year_of_birth: int | None, today: date
) -> dict[str, Any]:
    """The answers as model field values, or ActionRefused naming the implausible one. Only the
    network's enabled questions may be answered."""
    enabled = set(enabled_intake_questions(network))
    cleaned: dict[str, Any] = {}
    choices: dict[str, list[str]] = {
        IntakeQuestion.PAST_OVERDOSES: Intake.PastOverdoses.values,
        IntakeQuestion.CURRENT_TREATMENT: Intake.Treatment.values,
        IntakeQuestion.HOUSING_STATUS: Intake.Housing.values,
        IntakeQuestion.OTHERWISE_LOCATION: OtherwiseLocation.values,
    }
    for question, value in answers.items():
        if question not in enabled:
            raise ActionRefused(
                _("This network does not ask that intake question."), code="bad_question"
            )
        if question == IntakeQuestion.YEARS_OF_USE:
            cleaned[question] = _years_of_use(value, year_of_birth=year_of_birth, today=today)
        elif question == IntakeQuestion.RESIDENCE_AREA:
            text = str(value or "").strip()
            try:
                cleaned[question] = codes.normalise_postcode_district(text) if text else ""
            except CodeError as error:
                raise ActionRefused(str(error), code="bad_postcode") from None
        else:
            value = value or "not_said"
            if value not in choices[question]:
                raise ActionRefused(
                    _("Choose one of the answers offered."), code="bad_intake_choice"
                )
            cleaned[question] = value
    return cleaned


def _years_of_use(value: Any, *, year_of_birth: int | None, today: date) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ActionRefused(_("Years of drug use is a whole number."), code="bad_years")
    if not 0 <= value <= MAX_YEARS_OF_USE:
        raise ActionRefused(
            _("Years of drug use must be between 0 and %(max)s.") % {"max": MAX_YEARS_OF_USE},
            code="bad_years",
        )
    if year_of_birth is not None and value > today.year - year_of_birth:
        raise ActionRefused(
            _("That is more years of drug use than the person has been alive."),
            code="bad_years",
        )
    return int(value)


def register_client(
    *,
    site: Site,
    attrs: SchemeAttributes,
    gender: str,
    by: User,
    idempotency_key: uuid.UUID | str,
    at: datetime | None = None,
    confirm_not_duplicate: bool = False,
    intake_answers: dict[str, Any] | None = None,
) -> Client:
    """Register a new client under the network's code scheme and give them a fresh display
    code. Raises LikelyDuplicate when they seem to be registered already, unless staff have
    confirmed that this is a different person. ``intake_answers`` records the first-visit
    intake in the same transaction."""
    at = at or timezone.now()
    network = site.network
    scheme = network.client_code_scheme
    today = _local_today(site, at)
    text = _canonical(network, attrs, today=today)
    # Only the hash under every configured key is kept, here and in the idempotency fingerprint.
    chain = codes.linkage_hashes(network.pk, scheme, text)
    digest = chain[-1]
    _check_gender(gender)
    year_of_birth = codes.year_of_birth(scheme, attrs)
    if year_of_birth is not None:
        try:
            codes.check_birth_year(year_of_birth, today=today)
        except CodeError as error:
            raise ActionRefused(str(error), code="bad_year_of_birth") from None
    answers = (
        None
        if intake_answers is None
        else clean_intake_answers(
            network=network, answers=intake_answers, year_of_birth=year_of_birth, today=today
        )
    )
    key = idempotency.parse_key(idempotency_key)
    # The fingerprint holds the keyed hash, never the attributes: an unkeyed hash of initials
    # and a birth date could be reversed by trying every combination.
    details = {
        "site": site.pk,
        "linkage_hash": digest,
        "gender": gender,
        "year_of_birth": year_of_birth,
        "intake": answers,
    }
    with transaction.atomic():
        existing = idempotency.replayed(key=key, by=by, action="client.registered", details=details)
        if existing is not None:
            return Client.objects.select_related("registered_site").get(pk=existing)
        candidates = duplicate_candidates(network=network, attrs=attrs, today=today)
        if candidates and not confirm_not_duplicate:
            raise LikelyDuplicate(candidates)
        client = _create_with_fresh_code(
            network=network,
            scheme=scheme,
            digest=digest,
            layers=len(chain),
            gender=gender,
            year_of_birth=year_of_birth,
            site=site,
            by=by,
            at=at,
        )
        if answers is not None:
            Intake.objects.create(client=client, recorded_at=at, recorded_by=by, **answers)
        audit.record(
            action="client.registered",
            by=by,
            obj=client,
            site=site,
            at=at,
            detail={
                "scheme": scheme,
                "intake": sorted(answers) if answers is not None else None,
                # Kept so a manager can review registrations made despite the warning.
                "confirmed_different_from": [c.pk for c in candidates],
            },
        )
        idempotency.remember(
            key=key, by=by, action="client.registered", details=details, obj=client
        )
    return client


def _create_with_fresh_code(
    *,
    network: Network,
    scheme: str,
    digest: str,
    layers: int,
    gender: str,
    year_of_birth: int | None,
    site: Site,
    by: User,
    at: datetime,
) -> Client:
    for _attempt in range(_CODE_ATTEMPTS):
        code = codes.new_display_code()
        if Client.objects.filter(network=network, display_code=code).exists():
            continue
        try:
            # A savepoint, so that losing a race for the same code does not spoil the outer
            # transaction; the unique constraint is the real guard.
            with transaction.atomic():
                return Client.objects.create(
                    network=network,
                    display_code=code,
                    linkage_hash=digest,
                    linkage_layers=layers,
                    scheme=scheme,
                    gender=gender,
                    year_of_birth=year_of_birth,
                    registered_at=at,
                    registered_site=site,
                    registered_by=by,
                )
        except IntegrityError:
            continue
    raise ActionRefused(
        _("A new client code could not be made just now. Try again."), code="no_code"
    )


class _NoIntakeYet:
    """What ``versioning.expect`` compares with before a client's first intake."""

    version = versioning.NOT_YET_RECORDED


_NO_INTAKE_YET = _NoIntakeYet()


def _refuse_if_merged(client: Client) -> None:
    if client.merged_into_id is not None:
        raise ActionRefused(
            _("This code has been merged into another client. Open that client instead."),
            code="merged",
        )


def record_intake(
    *,
    client: Client,
    site: Site,
    answers: dict[str, Any],
    expected_version: int,
    by: User,
    at: datetime | None = None,
) -> Intake:
    """Record (or correct) the first-visit intake. Questions not answered keep their answers.

    ``expected_version`` is the intake's version the form was opened on (0 when there was no
    intake yet): a colleague's answers saved since are never overwritten unseen
    (``versioning.StaleEdit``)."""
    at = at or timezone.now()
    _refuse_if_merged(client)
    if site.network_id != client.network_id:
        raise ActionRefused(_("This client belongs to another network."), code="wrong_network")
    cleaned = clean_intake_answers(
        network=client.network,
        answers=answers,
        year_of_birth=client.year_of_birth,
        today=_local_today(site, at),
    )
    with transaction.atomic():
        intake = Intake.objects.select_for_update().filter(client=client).first()
        versioning.expect(
            intake if intake is not None else _NO_INTAKE_YET, expected_version=expected_version
        )
        if intake is None:
            # Two first intakes at once: the client's one-to-one row lets only one in.
            try:
                with transaction.atomic():
                    intake = Intake.objects.create(
                        client=client, recorded_at=at, recorded_by=by, **cleaned
                    )
            except IntegrityError:
                current = Intake.objects.filter(client=client).values_list("version", flat=True)
                raise versioning.StaleEdit(
                    expected=expected_version, current=current.first() or 0
                ) from None
            action = "client.intake_recorded"
        else:
            versioning.bump(intake, expected_version)
            for field, value in cleaned.items():
                setattr(intake, field, value)
            intake.recorded_at = at
            intake.recorded_by = by
            intake.save(update_fields=[*cleaned, "recorded_at", "recorded_by"])
            action = "client.intake_updated"
        # Which questions were answered, not the answers: the record holds those.
        audit.record(
            action=action,
            by=by,
            obj=intake,
            site=site,
            at=at,
            detail={"questions": sorted(cleaned), "version": intake.version},
        )
    return intake


# ---------------------------------------------------------------------------------------------
# Bans


def _reason_text(reason: str, *, what: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ActionRefused(what, code="reason_missing")
    if len(text) > MAX_REASON_LENGTH:
        raise ActionRefused(
            _("Keep it to %(max)s characters.") % {"max": MAX_REASON_LENGTH},
            code="reason_too_long",
        )
    return text


def set_ban(
    *,
    client: Client,
    site: Site | None,
    reason: str,
    note: str,
    starts_at: datetime | None,
    expires_at: datetime | None,
    by: User,
    idempotency_key: uuid.UUID | str,
    at: datetime | None = None,
    from_site: Site | None = None,
) -> Ban:
    """Ban a client from one site (or every site of the network when ``site`` is None) from
    ``starts_at`` (None: from now) until ``expires_at`` (None: until lifted). Managers only."""
    at = at or timezone.now()
    starts_now = starts_at is None
    starts_at = at if starts_at is None else starts_at
    _refuse_if_merged(client)
    network = client.network
    if site is not None and site.network_id != client.network_id:
        raise ActionRefused(_("That site is not in this client's network."), code="wrong_network")
    if not may_set_ban(by, network=network, site=site):
        raise ActionRefused(
            _("Only a manager of the site can set a ban there.")
            if site is not None
            else _("Only a manager of every site in the network can set a network-wide ban."),
            code="not_allowed",
        )
    if reason not in Ban.Reason.values:
        raise ActionRefused(_("Choose one of the reasons offered."), code="bad_reason")
    note = (note or "").strip()
    if len(note) > MAX_REASON_LENGTH:
        raise ActionRefused(
            _("Keep the note to %(max)s characters.") % {"max": MAX_REASON_LENGTH},
            code="note_too_long",
        )
    if timezone.is_naive(starts_at) or (expires_at is not None and timezone.is_naive(expires_at)):
        raise ActionRefused(_("The ban's dates need a time zone."), code="naive_datetime")
    if expires_at is not None and expires_at <= starts_at:
        raise ActionRefused(_("A ban must end after it starts."), code="ends_before_start")
    if expires_at is not None and expires_at <= at:
        raise ActionRefused(_("That ban would already be over."), code="already_over")
    key = idempotency.parse_key(idempotency_key)
    details = {
        "client": client.pk,
        "site": site.pk if site is not None else None,
        "reason": reason,
        "note": note,
        # "From now" is fingerprinted as such: a replay a second later is the same ban.
        "starts_at": None if starts_now else starts_at.isoformat(),
        "expires_at": expires_at.isoformat() if expires_at is not None else None,
    }
    with transaction.atomic():
        existing = idempotency.replayed(key=key, by=by, action="ban.set", details=details)
        if existing is not None:
            return Ban.objects.get(pk=existing)
        ban = Ban.objects.create(
            client=client,
            site=site,
            reason=reason,
            note=note,
            starts_at=starts_at,
            expires_at=expires_at,
            set_by=by,
            set_at=at,
        )
        audit.record(
            action="ban.set",
            by=by,
            obj=ban,
            site=site or from_site,
            at=at,
            detail={
                "reason": reason,
                "network_wide": site is None,
                "until_lifted": expires_at is None,
            },
        )
        idempotency.remember(key=key, by=by, action="ban.set", details=details, obj=ban)
    return ban


def lift_ban(
    *, ban: Ban, reason: str, by: User, at: datetime | None = None, from_site: Site | None = None
) -> Ban:
    """End a ban early, saying why. Managers of the ban's site (or of the whole network for a
    network-wide ban) only."""
    at = at or timezone.now()
    text = _reason_text(reason, what=_("Say why the ban is being lifted."))
    client = ban.client
    if not may_set_ban(by, network=client.network, site=ban.site):
        raise ActionRefused(
            _("Only a manager of the site the ban covers can lift it."), code="not_allowed"
        )
    if ban.expires_at is not None and ban.expires_at <= at:
        raise ActionRefused(_("This ban has already ended."), code="already_over")
    with transaction.atomic():
        # A conditional update: two managers lifting at once cannot both succeed.
        lifted = Ban.objects.filter(pk=ban.pk, lifted_at__isnull=True).update(
            lifted_at=at, lifted_by=by, lift_reason=text
        )
        if not lifted:
            raise ActionRefused(_("This ban has already been lifted."), code="already_lifted")
        ban.refresh_from_db()
        audit.record(action="ban.lifted", by=by, obj=ban, site=ban.site or from_site, at=at)
    return ban


# ---------------------------------------------------------------------------------------------
# Merges


def merge_clients(
    *,
    keep: Client,
    merge: Client,
    reason: str,
    by: User,
    site: Site,
    at: datetime | None = None,
) -> ClientMerge:
    """Record that two codes are one person: ``merge``'s visits, bans (and intake, if ``keep``
    has none) move to ``keep``, and ``merge``'s code finds ``keep`` from now on. Managers and
    administrators only. Merging the same pair again returns the first merge."""
    at = at or timezone.now()
    if keep.pk == merge.pk:
        raise ActionRefused(_("That is the same client code twice."), code="same_client")
    if keep.network_id != merge.network_id or keep.network_id != site.network_id:
        raise ActionRefused(
            _("Clients of different networks cannot be merged."), code="wrong_network"
        )
    if not roles_at(by, site) & {Role.MANAGER, Role.ADMIN}:
        raise ActionRefused(_("Only a manager can merge clients."), code="not_allowed")
    text = _reason_text(reason, what=_("Say why these codes are the same person."))
    with transaction.atomic():
        keep = Client.objects.select_for_update().get(pk=keep.pk)
        merge = Client.objects.select_for_update().get(pk=merge.pk)
        if merge.merged_into_id == keep.pk:
            return ClientMerge.objects.get(merged=merge)
        if keep.merged_into_id is not None:
            raise ActionRefused(
                _("%(code)s has itself been merged into another client. Merge into that one.")
                % {"code": keep.display_code},
                code="keep_merged",
            )
        if merge.merged_into_id is not None:
            raise ActionRefused(
                _("%(code)s has already been merged into another client.")
                % {"code": merge.display_code},
                code="already_merged",
            )
        open_states = merge.visits.model.OPEN_STATES
        if (
            merge.visits.filter(state__in=open_states).exists()
            and keep.visits.filter(state__in=open_states).exists()
        ):
            raise ActionRefused(
                _("Both codes have a visit open now. Check one of them out first."),
                code="both_open",
            )
        moved_visit_ids = sorted(merge.visits.values_list("pk", flat=True))
        moved_ban_ids = sorted(merge.bans.values_list("pk", flat=True))
        merge.visits.update(client=keep)
        merge.bans.update(client=keep)
        moved_intake = False
        if not Intake.objects.filter(client=keep).exists():
            moved_intake = bool(Intake.objects.filter(client=merge).update(client=keep))
        # Incidents, supplies, services, referrals and identity records follow the person.
        moved_elsewhere: dict[str, list[int]] = {}
        for _receiver, moved in clients_merged.send(sender=Client, kept=keep, merged=merge):
            moved_elsewhere.update(cast("dict[str, list[int]]", moved))
        # Codes merged into ``merge`` earlier now point straight at ``keep``.
        Client.objects.filter(merged_into=merge).update(merged_into=keep)
        merge.merged_into = keep
        merge.merged_at = at
        merge.save(update_fields=["merged_into", "merged_at"])
        record = ClientMerge.objects.create(
            kept=keep,
            merged=merge,
            reason=text,
            merged_by=by,
            merged_at=at,
            moved_visit_ids=moved_visit_ids,
            moved_ban_ids=moved_ban_ids,
        )
        audit.record(
            action="client.merged",
            by=by,
            obj=record,
            site=site,
            at=at,
            detail={
                "kept": keep.pk,
                "merged": merge.pk,
                "moved_visit_ids": moved_visit_ids,
                "moved_ban_ids": moved_ban_ids,
                "moved_intake": moved_intake,
                "moved_records": moved_elsewhere,
            },
        )
    return record
