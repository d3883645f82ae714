"""The kinds of patient in the sample cohort, and the simulation of one patient.

Patient ``i`` follows archetype ``i % 12``, so any cohort of 12 or more patients covers every
archetype: cardiometabolic disease (diabetes with metformin and insulin, hypertension, statins),
chronic kidney disease, asthma in a child and in an adult, COPD with pneumonia, infants on the
vaccine schedule, and healthy adults with acute illness and screening. Ages, dates and values
vary with the seed; the clinical storyline of each archetype does not.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fhir_fixtures.cohort import chronic, episodes
from fhir_fixtures.cohort.chronic import Drug
from fhir_fixtures.cohort.course import Course, PlannedImage, Trajectory
from fhir_fixtures.cohort.demographics import CareNetwork, Person, make_person, patient_resource
from fhir_fixtures.cohort.identity import IdFactory
from fhir_fixtures.cohort.record import PatientRecord
from fhir_fixtures.cohort.terminology import Allergies, Code, Medications, SmokingStatus

__all__ = ["ARCHETYPES", "Archetype", "SimulatedPatient", "simulate_patient"]


@dataclass(frozen=True)
class Archetype:
    """A kind of patient: an age range, an optional fixed sex, and a storyline."""

    name: str
    min_age: int
    max_age: int
    gender: str | None
    story: Callable[[Course, Callable[[float], date]], None]


@dataclass(frozen=True)
class SimulatedPatient:
    """One generated patient: identity, resources in bundle order, and images to draw."""

    patient_id: str
    person: Person
    archetype: str
    resources: list[dict[str, Any]]
    images: list[PlannedImage]


def _allergy(c: Course, day: date, allergy: tuple[Code, str], reaction: Code, high: bool) -> None:
    code, category = allergy

    def record(moment: datetime) -> None:
        c.record.allergy(
            moment,
            code,
            category,
            criticality="high" if high else "low",
            reaction=reaction,
            severity="severe" if high else "mild",
        )

    c.schedule(day, record)


def _cardiometabolic(c: Course, at: Callable[[float], date]) -> None:
    c.smoking = SmokingStatus.FORMER
    c.bmi = Trajectory([(c.start, c.rng.uniform(31, 34))], 0.4)
    chronic.hypertension(
        c,
        onset=at(0.12),
        drugs=[Drug(Medications.LISINOPRIL, 45), Drug(Medications.AMLODIPINE, 420)],
    )
    chronic.diabetes(c, prediabetes=at(0.22), onset=at(0.4), insulin_after_days=1650)
    chronic.hyperlipidemia(c, onset=at(0.45), switch_after_days=700)
    episodes.sinusitis(c, at(0.3))


def _hypertension(c: Course, at: Callable[[float], date]) -> None:
    c.bmi = Trajectory([(c.start, c.rng.uniform(27, 30))], 0.4)
    chronic.hypertension(
        c,
        onset=at(0.3),
        drugs=[Drug(Medications.HCTZ, 40), Drug(Medications.AMLODIPINE, 430)],
    )
    episodes.sinusitis(c, at(0.55))
    episodes.bronchitis(c, at(0.8), xray_finding=None)


def _asthma_child(c: Course, at: Callable[[float], date]) -> None:
    birth = c.birth_date
    chronic.asthma(
        c,
        onset=birth + timedelta(days=c.rng.randint(1100, 1500)),
        childhood=True,
        exacerbations=[birth + timedelta(days=c.rng.randint(1700, 2000)), at(0.9)],
    )
    episodes.otitis_media(c, birth + timedelta(days=c.rng.randint(300, 600)))
    _allergy(
        c, birth + timedelta(days=1000), Allergies.DUST_MITE, Allergies.REACTION_RHINITIS, False
    )
    _allergy(
        c, birth + timedelta(days=1010), Allergies.GRASS_POLLEN, Allergies.REACTION_RHINITIS, False
    )


def _copd_pneumonia(c: Course, at: Callable[[float], date]) -> None:
    c.smoking = SmokingStatus.CURRENT
    c.bmi = Trajectory([(c.start, c.rng.uniform(23, 26))], 0.4)
    chronic.copd(c, onset=at(0.2))
    chronic.hypertension(c, onset=at(0.35), drugs=[Drug(Medications.LISINOPRIL, 35)])
    episodes.pneumonia(c, at(0.7), admitted=True, follow_up_xray=True)
    episodes.colonoscopy(c, at(0.5))


def _young_adult(c: Course, at: Callable[[float], date]) -> None:
    allergic = c.rng.random() < 0.5
    if allergic:
        _allergy(c, at(0.05), Allergies.PENICILLIN, Allergies.REACTION_RASH, False)
    episodes.strep_throat(c, at(0.25), penicillin_allergy=allergic)
    episodes.sinusitis(c, at(0.5))
    episodes.ankle_sprain(c, at(0.7))


def _diabetes_ckd(c: Course, at: Callable[[float], date]) -> None:
    c.smoking = SmokingStatus.FORMER
    c.bmi = Trajectory([(c.start, c.rng.uniform(30, 35))], 0.4)
    chronic.hypertension(
        c,
        onset=at(0.04),
        drugs=[Drug(Medications.LISINOPRIL, 30), Drug(Medications.HCTZ, 600)],
    )
    chronic.diabetes(c, onset=at(0.08), insulin_after_days=1900)
    chronic.hyperlipidemia(c, onset=at(0.2))
    chronic.kidney_disease(c, stage2=at(0.35), stage3=at(0.75))


def _hyperlipidemia(c: Course, at: Callable[[float], date]) -> None:
    chronic.hyperlipidemia(c, onset=at(0.3), switch_after_days=500)
    episodes.bronchitis(c, at(0.6), xray_finding=None)
    if c.gender == "female" and c.age(at(0.8)) >= 50:
        episodes.mammogram(c, at(0.8))


def _infant(c: Course, at: Callable[[float], date]) -> None:
    episodes.otitis_media(c, c.birth_date + timedelta(days=c.rng.randint(280, 360)))
    _allergy(
        c,
        c.birth_date + timedelta(days=400),
        Allergies.PEANUT,
        Allergies.REACTION_ANAPHYLAXIS,
        True,
    )


def _elderly_cough(c: Course, at: Callable[[float], date]) -> None:
    c.smoking = SmokingStatus.FORMER
    chronic.hypertension(c, onset=at(0.05), drugs=[Drug(Medications.HCTZ, 30)])
    chronic.hyperlipidemia(c, onset=at(0.1))
    episodes.bronchitis(c, at(0.6), xray_finding="cardiomegaly")
    episodes.pneumonia(c, at(0.85), admitted=False, follow_up_xray=False)


def _prediabetes(c: Course, at: Callable[[float], date]) -> None:
    c.bmi = Trajectory([(c.start, c.rng.uniform(32, 36))], 0.4)
    chronic.diabetes(c, prediabetes=at(0.2), onset=at(0.55))
    _allergy(c, at(0.1), Allergies.SHELLFISH, Allergies.REACTION_HIVES, False)
    episodes.strep_throat(c, at(0.4), penicillin_allergy=False)


def _adult_asthma(c: Course, at: Callable[[float], date]) -> None:
    chronic.asthma(
        c,
        onset=c.birth_date + timedelta(days=c.rng.randint(2000, 4000)),
        childhood=False,
        exacerbations=[at(0.3)],
    )
    episodes.pneumonia(c, at(0.6), admitted=False, follow_up_xray=True)
    _allergy(c, at(0.02), Allergies.CAT_DANDER, Allergies.REACTION_RHINITIS, False)


def _screening(c: Course, at: Callable[[float], date]) -> None:
    for fraction in (0.3, 0.5, 0.7, 0.9):
        if c.age(at(fraction)) >= 50:
            episodes.mammogram(c, at(fraction))
    episodes.colonoscopy(c, at(0.4))
    episodes.sinusitis(c, at(0.65))
    _allergy(c, at(0.05), Allergies.LATEX, Allergies.REACTION_HIVES, False)


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype("cardiometabolic", 56, 70, None, _cardiometabolic),
    Archetype("hypertension", 45, 65, None, _hypertension),
    Archetype("asthma-child", 6, 12, None, _asthma_child),
    Archetype("copd-pneumonia", 64, 78, None, _copd_pneumonia),
    Archetype("young-adult", 22, 35, None, _young_adult),
    Archetype("diabetes-ckd", 62, 75, None, _diabetes_ckd),
    Archetype("hyperlipidemia", 42, 60, None, _hyperlipidemia),
    Archetype("infant", 1, 3, None, _infant),
    Archetype("elderly-cough", 76, 88, None, _elderly_cough),
    Archetype("prediabetes", 45, 58, None, _prediabetes),
    Archetype("adult-asthma", 28, 48, None, _adult_asthma),
    Archetype("screening", 52, 64, "female", _screening),
)

# Adults' records cover this many years before the reference date; children's start at birth.
RECORD_YEARS = 10


def simulate_patient(
    seed: int, index: int, as_of: date, network: CareNetwork, taken_names: set[str]
) -> SimulatedPatient:
    """Simulate patient ``index`` of the cohort for ``seed`` up to (not including) ``as_of``.

    Args:
        seed: the cohort seed.
        index: the patient's position in the cohort (chooses the archetype).
        as_of: the reference date.
        network: the clinics and clinicians.
        taken_names: full names already used (updated with this patient's).

    Returns:
        The patient with resources in the order of a Synthea bundle: Patient, the organizations
        and practitioners it references, then clinical resources in date order.
    """
    archetype = ARCHETYPES[index % len(ARCHETYPES)]
    rng = random.Random(f"ehr-agent-cohort/{seed}/{index}")
    ids = IdFactory(seed, f"patient-{index}")
    gender = archetype.gender or rng.choice(("female", "male"))
    age_days = rng.randint(archetype.min_age * 365, archetype.max_age * 365 + 300)
    birth = as_of - timedelta(days=age_days)
    person = make_person(rng, gender, birth, taken_names)
    patient_id = ids.named("patient")
    patient = patient_resource(
        person, patient_id, f"{seed % 1000:03d}{index:04d}", rng.randrange(10**6), as_of
    )
    actors = network.actors_by_clinic[index % len(network.actors_by_clinic)]
    record = PatientRecord(ids, patient, actors, as_of)
    window = as_of - timedelta(days=RECORD_YEARS * 365 + rng.randint(0, 200))
    start = max(birth, window)
    course = Course(
        rng=rng,
        ids=ids,
        record=record,
        gender=gender,
        birth_date=birth,
        start=start,
        as_of=as_of,
        wellness_month=rng.choice((9, 10, 11, 12)),
        adult_height=rng.gauss(177, 6) if gender == "male" else rng.gauss(163, 6),
        bmi=Trajectory([(start, rng.uniform(21, 27))], 0.4),
    )
    span = (as_of - start).days

    def at(fraction: float) -> date:
        return start + timedelta(days=round(span * fraction))

    course.plan_wellness()
    course.plan_covid_vaccines()
    archetype.story(course, at)
    course.run()
    used = {actors.clinic_id, actors.pcp_id, actors.hospital_id, actors.hospitalist_id}
    network_resources = [r for r in network.resources if r["id"] in used]
    resources = [record.resources[0], *network_resources, *record.resources[1:]]
    return SimulatedPatient(
        patient_id=patient_id,
        person=person,
        archetype=archetype.name,
        resources=resources,
        images=list(course.images),
    )
