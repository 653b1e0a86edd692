"""What the API takes and gives, as pydantic schemas (they are also its OpenAPI document).

Answers carry ids and non-identifying fields only: never a client code, a name or a note
about a person. Choices are the model's own (a route, a kind of intervention), checked here so
a wrong value is a 422 naming the field, and listed in the OpenAPI document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from django.db.models import TextChoices
from ninja import Schema
from pydantic import (
    AwareDatetime,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictBool,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from saferoom.clients.models import OtherwiseLocation
from saferoom.floor.models import Visit
from saferoom.incidents.models import Intervention, Kind, Location
from saferoom.sites.models import Route

# The largest id the API accepts: beyond it SQLite's integers overflow (a 500, not a 404).
MAX_ID = 2**53


@dataclass(frozen=True)
class OneOf:
    """Pydantic metadata: the string must be one of ``choices``' values (listed as an enum in
    the OpenAPI document)."""

    choices: type[TextChoices]

    @property
    def values(self) -> list[str]:
        return [str(v) for v in self.choices.values]

    def check(self, value: str) -> str:
        if value not in self.values:
            raise ValueError(f"choose one of: {', '.join(self.values)}")
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["enum"] = self.values
        return json_schema


Id = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
RouteChoice = Annotated[str, OneOf(Route)]
OtherwiseChoice = Annotated[str, OneOf(OtherwiseLocation)]
AloneChoice = Annotated[str, OneOf(Visit.Alone)]
LocationChoice = Annotated[str, OneOf(Location)]
IncidentKindChoice = Annotated[str, OneOf(Kind)]
InterventionKindChoice = Annotated[str, OneOf(Intervention.Kind)]
NaloxoneRouteChoice = Annotated[str, OneOf(Intervention.Route)]
AvpuChoice = Annotated[str, OneOf(Intervention.Avpu)]
CatalogueCode = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[-a-zA-Z0-9_]+$")]


class Problem(Schema):
    detail: str
    code: str
    field: str | None = None
    errors: list[dict[str, str]] | None = None
    current_version: int | None = Field(
        None, description="With stale_edit: the record's version saved now (also the ETag)."
    )


# --- Sites ----------------------------------------------------------------------------------


class SiteOut(Schema):
    slug: str
    name: str
    kind: str
    time_zone: str
    network_id: int
    roles: list[str] = Field(description="Your roles at this site.")


class SpaceOut(Schema):
    id: int
    name: str
    kind: str
    seats: int
    accessible: bool
    out_of_service: bool


class ListEntryOut(Schema):
    code: str
    label: str
    category: str


class SiteDetailOut(SiteOut):
    anonymous_visits_allowed: bool
    permitted_routes: list[str]
    spaces: list[SpaceOut]
    substances: list[ListEntryOut]
    supplies: list[ListEntryOut]


# --- Check-in -------------------------------------------------------------------------------


class VisitIn(Schema):
    client_code: str | None = Field(
        None,
        max_length=20,
        description="The code on the client's card (e.g. K7F-29Q); leave out for an anonymous "
        "visit.",
    )
    anonymous: StrictBool = Field(
        False, description="True for an anonymous visit (no client code)."
    )
    planned_route: RouteChoice
    planned_substances: list[CatalogueCode] = Field(
        min_length=1, max_length=20, description="Codes from the site's substances list."
    )
    otherwise_location: OtherwiseChoice = "not_said"
    would_use_alone: AloneChoice = "not_said"
    eligibility: dict[str, StrictBool] = Field(
        default_factory=dict,
        description="The site's eligibility questions answered: old_enough, first_time, "
        "intoxicated, pregnant, resident (only those the site asks).",
    )


class VisitOut(Schema):
    id: int
    state: str
    arrived_at: datetime
    anonymous: bool
    planned_route: str


# --- Sessions -------------------------------------------------------------------------------


class SessionStartIn(Schema):
    visit_id: Id
    space_id: Id
    seat: Annotated[int, Field(strict=True, ge=1, le=1000)] = 1


class SessionEndIn(Schema):
    to_aftercare: StrictBool = Field(
        True, description="False when the person leaves the site straight from the space."
    )


class SessionOut(Schema):
    id: int
    visit_id: int
    space_id: int
    seat: int
    route: str
    started_at: datetime
    check_interval_minutes: int
    next_check_due_at: datetime | None
    ended_at: datetime | None
    end_reason: str
    clear_down_until: datetime | None


# --- Incidents ------------------------------------------------------------------------------


class InterventionIn(Schema):
    kind: InterventionKindChoice
    at: AwareDatetime = Field(description="When it was done (with its time zone).")
    naloxone_mg: Decimal | None = None
    naloxone_route: NaloxoneRouteChoice | None = None
    oxygen_l_min: Annotated[int, Field(ge=0, le=1000)] | None = None
    breathing_rate: Annotated[int, Field(ge=0, le=1000)] | None = None
    spo2: Annotated[int, Field(ge=0, le=1000)] | None = None
    avpu: AvpuChoice | None = None
    note: str = Field("", max_length=200, description="No names.")


class IncidentIn(Schema):
    location: LocationChoice
    location_detail: str = Field("", max_length=120, description="Where exactly; no names.")
    kind: IncidentKindChoice | None = None
    visit_id: Id | None = None
    space_id: Id | None = None
    onset_at: AwareDatetime | None = Field(
        None,
        description="When it began; now if left out. Interventions cannot come before it.",
    )
    interventions: list[InterventionIn] = Field(default_factory=list, max_length=200)


class InterventionOut(Schema):
    id: int
    kind: str
    at: datetime


class IncidentOut(Schema):
    id: int
    kind: str
    location: str
    onset_at: datetime
    visit_id: int | None
    space_id: int | None
    interventions: list[InterventionOut]


# --- Supplies -------------------------------------------------------------------------------


class SupplyGivenIn(Schema):
    item: CatalogueCode = Field(description="A code from the site's supplies list.")
    quantity: Annotated[int, Field(strict=True, ge=1, le=1_000_000)]
    visit_id: Id | None = None
    client_code: str | None = Field(
        None, max_length=20, description="A walk-in's card code, if they showed one."
    )


class SupplyGivenOut(Schema):
    id: int
    item: str
    quantity: int
    visit_id: int | None
    at: datetime
    in_stock_after: int
