"""Chronic diseases: diagnosis, treatment started after it, and the follow-up that shows its effect.

Each function bends the patient's trajectories (HbA1c falls once metformin starts, blood pressure
once an antihypertensive does, LDL once a statin does) and plans the visits that record it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from fhir_fixtures.cohort.course import Course
from fhir_fixtures.cohort.record import Visit
from fhir_fixtures.cohort.terminology import (
    CarePlans,
    Code,
    Conditions,
    Encounters,
    Labs,
    Medications,
    Procedures,
    SmokingStatus,
)

__all__ = [
    "Drug",
    "asthma",
    "copd",
    "diabetes",
    "hyperlipidemia",
    "hypertension",
    "kidney_disease",
]


@dataclass(frozen=True)
class Drug:
    """An antihypertensive step: what is started, how long after diagnosis, what it replaces."""

    medication: Code
    days_after_onset: int
    replaces: Code | None = None


def _days(day: date, n: int) -> date:
    return day + timedelta(days=n)


def _follow_ups(c: Course, first: date, every_days: int, visit: Callable[[datetime], None]) -> None:
    day = first
    while day < c.as_of:
        c.schedule(day, visit)
        day = _days(day, every_days + c.rng.randint(-14, 14))


def _problem_visit(c: Course, moment: datetime, reason: Code) -> Visit:
    visit = c.record.encounter(moment, 30, Encounters.PROBLEM, "AMB", reason=reason)
    c.vitals(visit)
    return visit


def diabetes(
    c: Course,
    *,
    onset: date,
    prediabetes: date | None = None,
    insulin_after_days: int | None = None,
) -> None:
    """Type 2 diabetes: prediabetes, diagnosis, metformin weeks later, HbA1c every 3-6 months.

    HbA1c climbs to 8-9 % at diagnosis, falls to ~7 % within six months of metformin, then drifts
    up; with ``insulin_after_days`` it passes 8 % again and insulin is added.
    """
    rng = c.rng
    metformin_day = _days(onset, rng.randint(14, 35))
    peak = round(rng.uniform(8.1, 9.2), 1)
    if prediabetes is not None:
        c.hba1c.set(_days(prediabetes, -400), 5.6)
        c.hba1c.set(prediabetes, 6.1)
    # Still in the prediabetic range half a year before diagnosis, so no earlier test would have
    # met the diagnostic threshold (6.5 %).
    c.hba1c.set(_days(onset, -200), 6.3)
    c.hba1c.set(_days(onset, -20), peak - 0.2)
    c.hba1c.set(metformin_day, peak)
    c.hba1c.set(_days(metformin_day, 180), rng.uniform(6.7, 7.2))
    insulin_day = _days(onset, insulin_after_days) if insulin_after_days is not None else None
    if insulin_day is not None:
        c.hba1c.set(_days(insulin_day, -30), rng.uniform(8.3, 8.8))
        c.hba1c.set(_days(insulin_day, 150), rng.uniform(7.0, 7.4))
    c.hba1c.set(c.as_of, c.hba1c.true_value(c.as_of) + rng.uniform(0.0, 0.4))
    c.bmi.set(_days(onset, 365), c.bmi.true_value(onset) - 1.2)

    def found_prediabetes(moment: datetime) -> None:
        visit = _problem_visit(c, moment, Conditions.PREDIABETES)
        c.hba1c_test(visit)
        c.conditions["prediabetes"] = c.record.condition(
            visit, Conditions.PREDIABETES, category="problem-list-item"
        )

    def diagnose(moment: datetime) -> None:
        visit = _problem_visit(c, moment, Conditions.DIABETES_T2)
        c.hba1c_test(visit)
        c.metabolic_panel(visit)
        if "prediabetes" in c.conditions:
            c.record.resolve(c.conditions.pop("prediabetes"), moment)
        condition = c.record.condition(visit, Conditions.DIABETES_T2, category="problem-list-item")
        c.conditions["diabetes"] = condition
        goals = [
            c.record.goal("Hemoglobin A1c total in Blood < 7.0", [condition]),
            c.record.goal("Glucose [Mass/volume] in Blood < 108", [condition]),
        ]
        c.record.care_plan(
            visit,
            CarePlans.DIABETES,
            (CarePlans.DIABETIC_DIET, CarePlans.EXERCISE),
            addresses=[condition],
            goals=goals,
        )

    def start_metformin(moment: datetime) -> None:
        visit = c.record.encounter(moment, 20, Encounters.FOLLOW_UP, "AMB")
        c.vitals(visit)
        c.medications["metformin"] = c.record.prescribe(
            visit,
            Medications.METFORMIN,
            reason_id=c.conditions["diabetes"],
            dosage="1 tablet by mouth once daily with the evening meal",
        )

    def follow_up(moment: datetime) -> None:
        remote = c.rng.random() < 0.25
        visit = c.record.encounter(
            moment,
            20,
            Encounters.FOLLOW_UP,
            "VR" if remote else "AMB",
            reason=Conditions.DIABETES_T2,
        )
        if not remote:
            c.vitals(visit)
            c.hba1c_test(visit)
        c.record.procedure(visit, Procedures.MED_RECONCILIATION)

    def start_insulin(moment: datetime) -> None:
        visit = c.record.encounter(moment, 30, Encounters.FOLLOW_UP, "AMB")
        c.vitals(visit)
        c.hba1c_test(visit)
        c.medications["insulin"] = c.record.prescribe(
            visit,
            Medications.INSULIN,
            reason_id=c.conditions["diabetes"],
            dosage="20 units subcutaneously before breakfast and 10 units before dinner",
            per_day=2,
        )

    if prediabetes is not None:
        c.schedule(prediabetes, found_prediabetes)
    c.schedule(onset, diagnose)
    c.schedule(metformin_day, start_metformin)
    first_year_end = _days(metformin_day, 365)
    day = _days(metformin_day, 90)
    while day < min(first_year_end, c.as_of):
        c.schedule(day, follow_up)
        day = _days(day, 90 + rng.randint(-10, 10))
    _follow_ups(c, _days(first_year_end, 30), 182, follow_up)
    if insulin_day is not None:
        c.schedule(insulin_day, start_insulin)


def hypertension(c: Course, *, onset: date, drugs: Sequence[Drug]) -> None:
    """Essential hypertension: pressure rises for two years, is diagnosed, falls with each drug."""
    rng = c.rng
    c.systolic.set(_days(onset, -730), 128)
    c.diastolic.set(_days(onset, -730), 82)
    c.systolic.set(onset, rng.uniform(148, 158))
    c.diastolic.set(onset, rng.uniform(92, 98))
    systolic, diastolic = c.systolic.true_value(onset), c.diastolic.true_value(onset)
    for step, drug in enumerate(drugs):
        begin = _days(onset, drug.days_after_onset)
        c.systolic.set(begin, systolic)
        c.diastolic.set(begin, diastolic)
        systolic -= 13 if step == 0 else 8
        diastolic -= 7 if step == 0 else 5
        c.systolic.set(_days(begin, 60), systolic)
        c.diastolic.set(_days(begin, 60), diastolic)

    def diagnose(moment: datetime) -> None:
        visit = _problem_visit(c, moment, Conditions.HYPERTENSION)
        condition = c.record.condition(visit, Conditions.HYPERTENSION, category="problem-list-item")
        c.conditions["hypertension"] = condition
        goal = c.record.goal("Maintain blood pressure below 140/90 mm[Hg]", [condition])
        c.record.care_plan(
            visit,
            CarePlans.HYPERTENSION,
            (CarePlans.DASH_DIET, CarePlans.EXERCISE_EDUCATION),
            addresses=[condition],
            goals=[goal],
        )

    def start_drug(drug: Drug) -> None:
        def action(moment: datetime) -> None:
            visit = c.record.encounter(
                moment, 20, Encounters.FOLLOW_UP, "AMB", reason=Conditions.HYPERTENSION
            )
            c.vitals(visit)
            if drug.replaces is not None:
                key = drug.replaces.code
                if key in c.medications:
                    c.record.end_medication(c.medications.pop(key), moment)
            c.medications[drug.medication.code] = c.record.prescribe(
                visit,
                drug.medication,
                reason_id=c.conditions["hypertension"],
                dosage="1 tablet by mouth once daily",
            )

        c.schedule(_days(onset, drug.days_after_onset), action)

    def follow_up(moment: datetime) -> None:
        remote = c.rng.random() < 0.3
        visit = c.record.encounter(
            moment,
            15,
            Encounters.FOLLOW_UP,
            "VR" if remote else "AMB",
            reason=Conditions.HYPERTENSION,
        )
        if not remote:
            c.vitals(visit)
        c.record.procedure(visit, Procedures.MED_RECONCILIATION)

    c.schedule(onset, diagnose)
    for drug in drugs:
        start_drug(drug)
    _follow_ups(c, _days(onset, 200), 182, follow_up)


def hyperlipidemia(c: Course, *, onset: date, switch_after_days: int | None = None) -> None:
    """Hyperlipidemia: LDL ~180 at diagnosis, simvastatin a month later, optionally atorvastatin."""
    rng = c.rng
    statin_day = _days(onset, rng.randint(25, 45))
    peak = rng.uniform(172, 196)
    c.ldl.set(_days(onset, -1500), 140)
    c.ldl.set(statin_day, peak)
    c.ldl.set(_days(statin_day, 90), peak * 0.66)
    c.triglycerides.set(statin_day, 190)
    c.triglycerides.set(_days(statin_day, 90), 150)
    switch_day = _days(onset, switch_after_days) if switch_after_days is not None else None
    if switch_day is not None:
        c.ldl.set(switch_day, peak * 0.7)
        c.ldl.set(_days(switch_day, 90), peak * 0.5)

    def diagnose(moment: datetime) -> None:
        visit = _problem_visit(c, moment, Conditions.HYPERLIPIDEMIA)
        c.lipid_panel(visit)
        condition = c.record.condition(
            visit, Conditions.HYPERLIPIDEMIA, category="problem-list-item"
        )
        c.conditions["hyperlipidemia"] = condition
        c.record.care_plan(
            visit,
            CarePlans.HYPERLIPIDEMIA,
            (CarePlans.EXERCISE, CarePlans.DIABETIC_DIET),
            addresses=[condition],
        )

    def start_statin(moment: datetime) -> None:
        visit = c.record.encounter(moment, 15, Encounters.FOLLOW_UP, "AMB")
        c.vitals(visit)
        c.medications["statin"] = c.record.prescribe(
            visit,
            Medications.SIMVASTATIN,
            reason_id=c.conditions["hyperlipidemia"],
            dosage="1 tablet by mouth at bedtime",
        )

    def recheck(moment: datetime) -> None:
        visit = c.record.encounter(
            moment, 15, Encounters.FOLLOW_UP, "AMB", reason=Conditions.HYPERLIPIDEMIA
        )
        c.lipid_panel(visit)

    def switch(moment: datetime) -> None:
        visit = c.record.encounter(
            moment, 15, Encounters.FOLLOW_UP, "AMB", reason=Conditions.HYPERLIPIDEMIA
        )
        c.lipid_panel(visit)
        c.record.end_medication(c.medications.pop("statin"), moment)
        c.medications["statin"] = c.record.prescribe(
            visit,
            Medications.ATORVASTATIN,
            reason_id=c.conditions["hyperlipidemia"],
            dosage="1 tablet by mouth once daily",
        )

    c.schedule(onset, diagnose)
    c.schedule(statin_day, start_statin)
    c.schedule(_days(statin_day, 100), recheck)
    if switch_day is not None:
        c.schedule(switch_day, switch)
        c.schedule(_days(switch_day, 100), recheck)


def kidney_disease(c: Course, *, stage2: date, stage3: date | None = None) -> None:
    """Chronic kidney disease: eGFR falls below 90, then below 60 (stage 2 ends when 3 begins)."""
    c.egfr.set(_days(stage2, -900), 92)
    c.egfr.set(stage2, 78)
    if stage3 is not None:
        c.egfr.set(stage3, 55)
        c.egfr.set(c.as_of, 55 - 2.5 * (c.as_of - stage3).days / 365)
    else:
        c.egfr.set(c.as_of, 78 - 2.0 * (c.as_of - stage2).days / 365)

    def diagnose(code: Code, previous: bool) -> Callable[[datetime], None]:
        def action(moment: datetime) -> None:
            visit = _problem_visit(c, moment, code)
            c.metabolic_panel(visit)
            c.record.measurement(visit, Labs.MICROALBUMIN, 55 * c.rng.uniform(0.8, 1.6))
            if previous and "ckd" in c.conditions:
                c.record.resolve(c.conditions["ckd"], moment)
            c.conditions["ckd"] = c.record.condition(visit, code, category="problem-list-item")

        return action

    c.schedule(stage2, diagnose(Conditions.CKD2, previous=False))
    if stage3 is not None:
        c.schedule(stage3, diagnose(Conditions.CKD3, previous=True))


def _spirometry(c: Course, visit: Visit, reason_id: str | None) -> None:
    c.record.procedure(visit, Procedures.SPIROMETRY, reason_id=reason_id, minutes=20)
    c.record.measurement(
        visit, Labs.FEV1_FVC, c.fev1_fvc.measure(visit.start.date(), c.rng), "procedure"
    )


def asthma(c: Course, *, onset: date, childhood: bool, exacerbations: Sequence[date] = ()) -> None:
    """Asthma: inhaled steroid and rescue inhaler, a yearly review, and emergency visits."""
    code = Conditions.CHILDHOOD_ASTHMA if childhood else Conditions.ASTHMA
    recorded = onset if c.in_window(onset) else _days(c.start, 20)
    c.fev1_fvc.set(onset, 76)

    def diagnose(moment: datetime) -> None:
        visit = _problem_visit(c, moment, code)
        onset_moment = moment if recorded == onset else c.clinic_time(onset)
        condition = c.record.condition(
            visit, code, onset=onset_moment, category="problem-list-item"
        )
        c.conditions["asthma"] = condition
        if c.age(moment.date()) >= 6:
            _spirometry(c, visit, condition)
        c.medications["albuterol"] = c.record.prescribe(
            visit,
            Medications.ALBUTEROL,
            reason_id=condition,
            dosage="2 puffs every 4 to 6 hours as needed for wheezing",
            per_day=None,
            as_needed=True,
        )
        c.medications["fluticasone"] = c.record.prescribe(
            visit,
            Medications.FLUTICASONE,
            reason_id=condition,
            dosage="2 puffs twice daily",
            per_day=2,
        )
        c.record.care_plan(
            visit,
            CarePlans.ASTHMA,
            (CarePlans.INHALED_STEROID, CarePlans.BREATHING_CONTROL),
            addresses=[condition],
        )

    def review(moment: datetime) -> None:
        visit = c.record.encounter(moment, 20, Encounters.ASTHMA_FOLLOW_UP, "AMB")
        c.vitals(visit, spo2=97 + c.rng.gauss(0, 1))
        if c.age(moment.date()) >= 6:
            _spirometry(c, visit, c.conditions["asthma"])

    def exacerbation(moment: datetime) -> None:
        visit = c.record.encounter(
            moment, 180, Encounters.EMERGENCY, "EMER", reason=code, at_hospital=True
        )
        c.vitals(
            visit,
            spo2=91 + c.rng.gauss(0, 1),
            heart_rate=112 + c.rng.gauss(0, 6),
            resp_rate=27 + c.rng.gauss(0, 2),
        )
        c.record.procedure(
            visit, Procedures.NEBULIZER, reason_id=c.conditions["asthma"], minutes=30
        )

    c.schedule(recorded, diagnose)
    _follow_ups(c, _days(recorded, 365), 365, review)
    for day in exacerbations:
        c.schedule(day, exacerbation)


def copd(c: Course, *, onset: date) -> None:
    """COPD in a smoker: spirometry falls year by year; maintenance and rescue inhalers."""
    c.fev1_fvc.set(onset, 64)
    c.fev1_fvc.set(c.as_of, 64 - 1.2 * (c.as_of - onset).days / 365)

    def diagnose(moment: datetime) -> None:
        visit = _problem_visit(c, moment, Conditions.COPD)
        condition = c.record.condition(visit, Conditions.COPD, category="problem-list-item")
        c.conditions["copd"] = condition
        _spirometry(c, visit, condition)
        c.medications["fluticasone-salmeterol"] = c.record.prescribe(
            visit,
            Medications.FLUTICASONE_SALMETEROL,
            reason_id=condition,
            dosage="1 inhalation twice daily",
            per_day=2,
        )
        c.medications["albuterol"] = c.record.prescribe(
            visit,
            Medications.ALBUTEROL,
            reason_id=condition,
            dosage="2 puffs every 4 to 6 hours as needed for shortness of breath",
            per_day=None,
            as_needed=True,
        )
        activities = [CarePlans.BREATHING_CONTROL]
        if c.smoking == SmokingStatus.CURRENT:
            activities.append(CarePlans.SMOKING_CESSATION)
        c.record.care_plan(visit, CarePlans.COPD, activities, addresses=[condition])

    def follow_up(moment: datetime) -> None:
        visit = c.record.encounter(moment, 20, Encounters.FOLLOW_UP, "AMB", reason=Conditions.COPD)
        c.vitals(visit, spo2=94 + c.rng.gauss(0, 1))
        if moment.month >= 7:
            _spirometry(c, visit, c.conditions["copd"])

    c.schedule(onset, diagnose)
    _follow_ups(c, _days(onset, 182), 182, follow_up)
