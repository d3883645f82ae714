"""Who the sample patients are and who treats them: names, addresses, clinics, clinicians.

All of it is invented. Names come from short lists of common US given and family names (the kind
Synthea draws from census tables); towns are real Massachusetts towns with their ZIP codes, and
street numbers, phone numbers (555-01xx) and SSNs (999-) are in ranges never assigned to anyone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Any

from fhir_fixtures.cohort.identity import IdFactory
from fhir_fixtures.cohort.record import Actors

__all__ = ["CareNetwork", "Person", "care_network", "make_person", "patient_resource"]

_FEMALE = (
    "Maria", "Linda", "Patricia", "Susan", "Deborah", "Karen", "Nancy", "Donna", "Carol", "Sandra",
    "Ruth", "Sharon", "Michelle", "Laura", "Emily", "Ashley", "Grace", "Chloe", "Sofia", "Lucia",
    "Mei", "Aisha", "Priya", "Fatima",
)  # fmt: skip
_MALE = (
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas",
    "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Andrew", "Joshua", "Kevin",
    "Ethan", "Noah", "Mateo", "Wei", "Omar", "Arjun",
)  # fmt: skip
_FAMILY = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
    "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "Nguyen", "Chen", "Patel", "Kowalski", "O'Brien", "Murphy",
)  # fmt: skip
_STREETS = (
    "Maple Street", "Oak Avenue", "Pleasant Street", "Main Street", "Elm Street",
    "Washington Street", "Highland Avenue", "Summer Street", "Union Street", "Chestnut Street",
    "Prospect Street",
)  # fmt: skip
_TOWNS = (
    ("Worcester", "01602"), ("Springfield", "01103"), ("Lowell", "01852"), ("Brockton", "02301"),
    ("Quincy", "02169"), ("Lynn", "01902"), ("Framingham", "01702"), ("Haverhill", "01830"),
    ("Waltham", "02451"), ("Somerville", "02143"), ("Fitchburg", "01420"), ("Salem", "01970"),
)  # fmt: skip
_RACES = (
    ("2106-3", "White", 0.62),
    ("2054-5", "Black or African American", 0.12),
    ("2028-9", "Asian", 0.12),
    ("2131-1", "Other Race", 0.14),
)
_OMB = "urn:oid:2.16.840.1.113883.6.238"
_US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition"


@dataclass(frozen=True)
class Person:
    """A sample patient's identity."""

    given: str
    family: str
    gender: str
    birth_date: date
    town: str
    postal_code: str
    street: str
    race: tuple[str, str]
    hispanic: bool
    married: bool


@dataclass(frozen=True)
class CareNetwork:
    """The organizations and practitioners of the sample cohort (shared by all patients)."""

    resources: tuple[dict[str, Any], ...]
    actors_by_clinic: tuple[Actors, ...]


def make_person(rng: random.Random, gender: str, birth_date: date, taken: set[str]) -> Person:
    """Draw a person not already in ``taken`` (full names are kept unique across the cohort)."""
    given_names = _FEMALE if gender == "female" else _MALE
    while True:
        given, family = rng.choice(given_names), rng.choice(_FAMILY)
        if f"{given} {family}" not in taken:
            break
    taken.add(f"{given} {family}")
    town, postal_code = rng.choice(_TOWNS)
    roll, race = rng.random(), _RACES[-1]
    for code, display, share in _RACES:
        if roll < share:
            race = (code, display, share)
            break
        roll -= share
    return Person(
        given=given,
        family=family,
        gender=gender,
        birth_date=birth_date,
        town=town,
        postal_code=postal_code,
        street=f"{rng.randint(10, 999)} {rng.choice(_STREETS)}",
        race=(race[0], race[1]),
        hispanic=rng.random() < 0.15,
        married=rng.random() < 0.5,
    )


def patient_resource(
    person: Person, patient_id: str, mrn: str, ssn_serial: int, as_of: date
) -> dict[str, Any]:
    """The Patient resource for ``person`` (name prefixes depend on age at ``as_of``)."""
    hispanic = ("2135-2", "Hispanic or Latino") if person.hispanic else (
        "2186-5", "Not Hispanic or Latino"
    )  # fmt: skip
    adult = (as_of - person.birth_date).days > 18 * 365
    name: dict[str, Any] = {"use": "official", "family": person.family, "given": [person.given]}
    if adult:
        name["prefix"] = ["Mr."] if person.gender == "male" else ["Ms."]
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "extension": [
            {
                "url": f"{_US_CORE}/us-core-race",
                "extension": [
                    {
                        "url": "ombCategory",
                        "valueCoding": {
                            "system": _OMB,
                            "code": person.race[0],
                            "display": person.race[1],
                        },
                    },
                    {"url": "text", "valueString": person.race[1]},
                ],
            },
            {
                "url": f"{_US_CORE}/us-core-ethnicity",
                "extension": [
                    {
                        "url": "ombCategory",
                        "valueCoding": {
                            "system": _OMB,
                            "code": hispanic[0],
                            "display": hispanic[1],
                        },
                    },
                    {"url": "text", "valueString": hispanic[1]},
                ],
            },
            {
                "url": f"{_US_CORE}/us-core-birthsex",
                "valueCode": "F" if person.gender == "female" else "M",
            },
        ],
        "identifier": [
            {"system": "urn:ehr-agent:sample-cohort", "value": patient_id},
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                            "code": "MR",
                            "display": "Medical Record Number",
                        }
                    ],
                    "text": "Medical Record Number",
                },
                "system": "http://hospital.smarthealthit.org",
                "value": mrn,
            },
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                            "code": "SS",
                            "display": "Social Security Number",
                        }
                    ],
                    "text": "Social Security Number",
                },
                "system": "http://hl7.org/fhir/sid/us-ssn",
                "value": f"999-{ssn_serial // 10000 % 100:02d}-{ssn_serial % 10000:04d}",
            },
        ],
        "name": [name],
        "telecom": [{"system": "phone", "value": f"555-01{ssn_serial % 100:02d}", "use": "home"}],
        "gender": person.gender,
        "birthDate": person.birth_date.isoformat(),
        "address": [
            {
                "line": [person.street],
                "city": person.town,
                "state": "MA",
                "postalCode": person.postal_code,
                "country": "US",
            }
        ],
        "maritalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                    "code": "M" if person.married else "S",
                    "display": "Married" if person.married else "Never Married",
                }
            ],
            "text": "Married" if person.married else "Never Married",
        },
        "communication": [
            {
                "language": {
                    "coding": [
                        {"system": "urn:ietf:bcp:47", "code": "en-US", "display": "English"}
                    ],
                    "text": "English",
                }
            }
        ],
    }


def _organization(org_id: str, name: str, town: str, postal_code: str) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": org_id,
        "active": True,
        "type": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                        "code": "prov",
                        "display": "Healthcare Provider",
                    }
                ],
                "text": "Healthcare Provider",
            }
        ],
        "name": name,
        "address": [{"city": town, "state": "MA", "postalCode": postal_code, "country": "US"}],
    }


def _practitioner(
    practitioner_id: str, npi: int, given: str, family: str, gender: str
) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": practitioner_id,
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": str(npi)}],
        "active": True,
        "name": [{"family": family, "given": [given], "prefix": ["Dr."]}],
        "gender": gender,
    }


def care_network(seed: int) -> CareNetwork:
    """The two clinics, the hospital and their clinicians (the same for every seed's patients)."""
    ids = IdFactory(seed, "care-network")
    hospital = _organization(
        ids.named("hospital"), "Riverside General Hospital", "Worcester", "01602"
    )
    clinics = (
        _organization(ids.named("clinic-1"), "Elm Street Family Medicine", "Worcester", "01602"),
        _organization(ids.named("clinic-2"), "Harbor Community Health Center", "Quincy", "02169"),
    )
    hospitalist = _practitioner(ids.named("dr-hospital"), 9990001, "Helen", "Okafor", "female")
    pcps = (
        _practitioner(ids.named("dr-clinic-1"), 9990002, "Samuel", "Reyes", "male"),
        _practitioner(ids.named("dr-clinic-2"), 9990003, "Anna", "Lindqvist", "female"),
    )
    actors = tuple(
        Actors(
            clinic_id=clinic["id"],
            clinic_name=clinic["name"],
            pcp_id=pcp["id"],
            pcp_name=f"Dr. {pcp['name'][0]['given'][0]} {pcp['name'][0]['family']}",
            hospital_id=hospital["id"],
            hospital_name=hospital["name"],
            hospitalist_id=hospitalist["id"],
            hospitalist_name="Dr. Helen Okafor",
        )
        for clinic, pcp in zip(clinics, pcps, strict=True)
    )
    return CareNetwork(resources=(hospital, *clinics, hospitalist, *pcps), actors_by_clinic=actors)
