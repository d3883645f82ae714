"""Imaging questions from ImagingStudy resources: any, how many, body site, modality, date."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from evals.builder.record import record_day
from evals.builder.templates.base import Draft, Template, hint, pick_distractors, template
from evals.builder.templates.concepts import any_of_type
from evals.builder.view import PatientView, ref
from evals.builder.vocabulary import imaging_concepts

__all__ = ["TEMPLATES"]

_TYPE = "ImagingStudy"
# Plausible extra options: the cohort alone has only a handful of sites and one modality.
_SITES = (
    "Chest",
    "Knee",
    "Hip",
    "Shoulder",
    "Ankle",
    "Wrist",
    "Pelvis",
    "Arm",
    "Clavicle",
    "Abdomen",
    "Head",
    "Spine",
)
_MODALITIES = (
    "Digital Radiography",
    "Computed Tomography",
    "Magnetic Resonance",
    "Ultrasound",
    "Nuclear Medicine",
)


def _studies(view: PatientView) -> list[tuple[Mapping[str, Any], str, str, str]]:
    """(resource, day, body site, modality) of single-site, single-modality studies."""
    found = []
    for study in view.resources(_TYPE):
        sites = imaging_concepts(study, "imaging_site")
        modalities = imaging_concepts(study, "imaging_modality")
        day = record_day(study)
        if len(sites) != 1 or len(modalities) != 1 or day is None:
            continue
        if sites[0].display is None or modalities[0].display is None:
            continue
        found.append((study, day.isoformat(), sites[0].display, modalities[0].display))
    return found


@template(
    "img.count",
    "imaging",
    "number",
    "How many imaging studies does the patient have (as of {as_of})?",
    "Count the imaging studies in the patient's record.",
    "As of {as_of}, how many imaging studies were done?",
)
def _count(view: PatientView, rng: random.Random) -> list[Draft]:
    studies = view.resources(_TYPE)
    if not studies or not view.fully_dated(_TYPE):
        return []
    return [
        Draft(
            params={"op": "count", "resource_type": _TYPE},
            slots={},
            gold=float(len(studies)),
            unit="count",
            tolerance=0.0,
            evidence=tuple(ref(s) for s in studies),
            hint=hint(_TYPE, None, date_to=view.as_of),
        )
    ]


@template(
    "img.body_site",
    "imaging",
    "choice",
    "Which body site was imaged in the patient's imaging study of {day}?",
    "The patient had an imaging study on {day}. What body part was imaged?",
    "On {day}, which part of the body was imaged?",
)
def _body_site(view: PatientView, rng: random.Random) -> list[Draft]:
    studies = _studies(view)
    pool = [*_SITES, *(c.display or "" for c in view.vocabulary.pool("imaging_site"))]
    drafts = []
    for study, day, site, _ in studies:
        if sum(1 for s in view.resources(_TYPE) if str(record_day(s)) == day) != 1:
            continue
        choices = pick_distractors(rng, site, pool)
        if choices is None:
            continue
        drafts.append(
            Draft(
                params={"op": "imaging_site_on_day", "resource_type": _TYPE, "day": day},
                slots={"day": day},
                gold=site,
                choices=choices,
                evidence=(ref(study),),
                hint=hint(_TYPE, None, record_day(study), record_day(study)),
            )
        )
    return drafts


@template(
    "img.modality",
    "imaging",
    "choice",
    "What imaging modality was used for the patient's {site} study on {day}?",
    "The {site} was imaged on {day}. With which modality?",
    "Which modality produced the {site} images of {day}?",
)
def _modality(view: PatientView, rng: random.Random) -> list[Draft]:
    drafts = []
    for study, day, site, modality in _studies(view):
        choices = pick_distractors(rng, modality, _MODALITIES)
        if choices is None:
            continue
        drafts.append(
            Draft(
                params={"op": "imaging_modality", "resource_type": _TYPE, "day": day},
                slots={"day": day, "site": site.lower()},
                gold=modality,
                choices=choices,
                evidence=(ref(study),),
                hint=hint(_TYPE, None, date_to=view.as_of),
            )
        )
    return drafts


@template(
    "img.site_date",
    "imaging",
    "date",
    "When was the patient's {site} imaged?",
    "On what date did the patient have imaging of the {site}?",
    "What is the date of the patient's {site} imaging study?",
)
def _site_date(view: PatientView, rng: random.Random) -> list[Draft]:
    studies = _studies(view)
    sites = [site for _, _, site, _ in studies]
    all_sites = [
        c.display for s in view.resources(_TYPE) for c in imaging_concepts(s, "imaging_site")
    ]
    return [
        Draft(
            params={"op": "imaging_site_date", "resource_type": _TYPE, "site": site},
            slots={"site": site.lower()},
            gold=day,
            precision="day",
            evidence=(ref(study),),
            hint=hint(_TYPE, None, date_to=view.as_of),
        )
        for study, day, site, _ in studies
        if sites.count(site) == 1 and all_sites.count(site) == 1
    ]


TEMPLATES: tuple[Template, ...] = (
    any_of_type(
        "img.any",
        "imaging",
        _TYPE,
        "Has the patient had any imaging studies (as of {as_of})?",
        "Does the record contain any imaging study for this patient?",
        "As of {as_of}, has the patient ever been imaged (X-ray, CT, MRI or similar)?",
    ),
    _count,
    _body_site,
    _modality,
    _site_date,
)
