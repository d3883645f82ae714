"""One patient's course through time: scheduled visits, what is measured, and routine care.

A :class:`Course` holds the patient's physiology as trajectories (blood pressure, HbA1c, LDL, eGFR,
weight...) and a calendar of visits. Disease modules (:mod:`.chronic`, :mod:`.episodes`) bend the
trajectories and add visits; :meth:`Course.run` then plays the calendar in date order, so a
medication can only reference a diagnosis made on an earlier visit.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from fhir_fixtures.cohort.identity import IdFactory
from fhir_fixtures.cohort.record import PatientRecord, Visit
from fhir_fixtures.cohort.terminology import (
    Code,
    Encounters,
    Labs,
    Panels,
    Procedures,
    SmokingStatus,
    Vaccines,
)

__all__ = ["Course", "PlannedImage", "Trajectory"]


@dataclass
class Trajectory:
    """A value that moves linearly between dated points, measured with noise.

    Args:
        points: ``(date, value)`` pairs; before the first and after the last the value is flat.
        sd: standard deviation of the measurement noise.
        low: the smallest value a measurement may report.
    """

    points: list[tuple[date, float]]
    sd: float
    low: float = 0.0

    def set(self, when: date, value: float) -> None:
        """Add (or replace) a point; later points keep their values."""
        self.points = sorted([p for p in self.points if p[0] != when] + [(when, value)])

    def true_value(self, when: date) -> float:
        """The underlying value on ``when`` (no noise)."""
        dates = [p[0] for p in self.points]
        i = bisect.bisect_right(dates, when)
        if i == 0:
            return self.points[0][1]
        if i == len(self.points):
            return self.points[-1][1]
        (d0, v0), (d1, v1) = self.points[i - 1], self.points[i]
        span = (d1 - d0).days
        return v0 + (v1 - v0) * ((when - d0).days / span if span else 1.0)

    def measure(self, when: date, rng: random.Random) -> float:
        """A measurement on ``when``: the true value plus noise, never below ``low``."""
        return max(self.low, self.true_value(when) + rng.gauss(0.0, self.sd))


@dataclass(frozen=True)
class PlannedImage:
    """An imaging study the generator also draws an image for."""

    study_id: str
    study_uid: str
    series_uid: str
    instance_uid: str
    sop_class: str
    modality: str
    started: datetime
    finding: str
    file_format: str


@dataclass
class _Event:
    moment: datetime
    order: int
    action: Callable[[datetime], None]


@dataclass
class Course:
    """The calendar and physiology of one patient between ``start`` and ``as_of``.

    Attributes:
        rng: the patient's random source (every draw is made in a fixed order).
        ids: the patient's id factory (also used for DICOM UIDs).
        record: where resources are written.
        gender: "female" or "male".
        birth_date: date of birth.
        start: first day of the record (birth for children, some years back for adults).
        as_of: reference date; nothing happens on or after it.
        smoking: the patient's smoking status.
        conditions: active diagnoses by key ("diabetes", "hypertension"...), as Condition ids.
        medications: chronic prescriptions by key, as MedicationRequest ids.
        images: imaging studies that get a generated image.
        vaccine_years: the year each routine vaccine was last given (keys: "td", "zoster"...).
    """

    rng: random.Random
    ids: IdFactory
    record: PatientRecord
    gender: str
    birth_date: date
    start: date
    as_of: date
    smoking: Code = SmokingStatus.NEVER
    conditions: dict[str, str] = field(default_factory=dict)
    medications: dict[str, str] = field(default_factory=dict)
    images: list[PlannedImage] = field(default_factory=list)
    wellness_month: int = 10
    adult_height: float = 170.0
    bmi: Trajectory = field(default_factory=lambda: Trajectory([(date(1900, 1, 1), 24.0)], 0.3))
    systolic: Trajectory = field(default_factory=lambda: Trajectory([(date(1900, 1, 1), 118)], 5))
    diastolic: Trajectory = field(default_factory=lambda: Trajectory([(date(1900, 1, 1), 76)], 4))
    hba1c: Trajectory = field(default_factory=lambda: Trajectory([(date(1900, 1, 1), 5.3)], 0.12))
    ldl: Trajectory = field(default_factory=lambda: Trajectory([(date(1900, 1, 1), 110)], 8))
    hdl: Trajectory = field(default_factory=lambda: Trajectory([(date(1900, 1, 1), 55)], 4))
    triglycerides: Trajectory = field(
        default_factory=lambda: Trajectory([(date(1900, 1, 1), 120)], 15)
    )
    egfr: Trajectory = field(default_factory=lambda: Trajectory([(date(1900, 1, 1), 95)], 3))
    fev1_fvc: Trajectory = field(default_factory=lambda: Trajectory([(date(1900, 1, 1), 80)], 2))
    vaccine_years: dict[str, int] = field(default_factory=dict)
    _events: list[_Event] = field(default_factory=list)
    _order: int = 0

    def age(self, when: date) -> float:
        """Age in years on ``when``."""
        return (when - self.birth_date).days / 365.25

    def clinic_time(self, day: date) -> datetime:
        """A time during clinic hours (UTC) on ``day``."""
        minute = self.rng.randrange(8 * 60, 17 * 60, 5)
        return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=UTC) + (
            timedelta(hours=5)
        )

    def in_window(self, day: date) -> bool:
        """Whether ``day`` falls in the record (on or after start, before the reference date)."""
        return self.start <= day < self.as_of

    def schedule(self, day: date, action: Callable[[datetime], None]) -> None:
        """Plan ``action`` for a clinic time on ``day`` (ignored outside the record's window)."""
        moment = self.clinic_time(day)
        if self.in_window(day):
            self._order += 1
            self._events.append(_Event(moment, self._order, action))

    def run(self) -> None:
        """Play every planned visit in date order (visits planned while running are played too)."""
        done = 0
        while True:
            pending = sorted(self._events[done:], key=lambda e: (e.moment, e.order))
            if not pending:
                return
            self._events[done:] = pending
            event = self._events[done]
            done += 1
            event.action(event.moment)

    def has(self, key: str) -> bool:
        """Whether the condition ``key`` has been diagnosed (and is part of the record)."""
        return key in self.conditions

    # Measurements ------------------------------------------------------------------------------

    def height_cm(self, day: date) -> float:
        """Height on ``day``: a growth curve for children, the adult height afterwards."""
        age = self.age(day)
        adult = self.adult_height
        if age >= 18:
            return adult
        if age < 1:
            return 50 + 25 * age
        if age < 2:
            return 75 + 12 * (age - 1)
        grown = 87 + 6.2 * (age - 2)
        return min(adult, grown if age < 12 else grown + (adult - grown) * (age - 12) / 6)

    def vitals(
        self,
        visit: Visit,
        *,
        temperature: float | None = None,
        spo2: float | None = None,
        heart_rate: float | None = None,
        resp_rate: float | None = None,
    ) -> None:
        """Record the vital signs taken at an in-person visit."""
        day = visit.start.date()
        rng, record = self.rng, self.record
        age = self.age(day)
        height = self.height_cm(day)
        bmi = self.bmi.measure(day, rng) if age >= 2 else 16.5 + rng.gauss(0, 0.4)
        weight = bmi * (height / 100) ** 2 if age >= 1 else 3.4 + 6.5 * age
        record.measurement(visit, Labs.HEIGHT, height, "vital-signs")
        record.measurement(visit, Labs.WEIGHT, weight, "vital-signs")
        if age >= 2:
            record.measurement(visit, Labs.BMI, weight / (height / 100) ** 2, "vital-signs")
        if age >= 3:
            systolic = self.systolic.measure(day, rng)
            diastolic = min(self.diastolic.measure(day, rng), systolic - 25)
            record.blood_pressure(visit, Labs.SYSTOLIC, Labs.DIASTOLIC, systolic, diastolic)
        base_hr = 120 if age < 1 else 100 if age < 6 else 75
        record.measurement(
            visit, Labs.HEART_RATE, heart_rate or base_hr + rng.gauss(0, 6), "vital-signs"
        )
        base_rr = 30 if age < 1 else 22 if age < 6 else 15
        record.measurement(
            visit, Labs.RESP_RATE, resp_rate or base_rr + rng.gauss(0, 1.5), "vital-signs"
        )
        if temperature is not None:
            record.measurement(visit, Labs.TEMPERATURE, temperature, "vital-signs")
        if spo2 is not None:
            record.measurement(visit, Labs.SPO2, spo2, "vital-signs")

    def hba1c_test(self, visit: Visit) -> None:
        """Record an HbA1c and a fasting glucose consistent with it."""
        day = visit.start.date()
        a1c = self.hba1c.measure(day, self.rng)
        self.record.measurement(visit, Labs.HBA1C, a1c)
        # Average glucose follows HbA1c (ADAG: eAG = 28.7 * A1c - 46.7).
        self.record.measurement(visit, Labs.GLUCOSE, 28.7 * a1c - 46.7 + self.rng.gauss(0, 8))

    def metabolic_panel(self, visit: Visit) -> None:
        """Record a basic metabolic panel (with eGFR) under one DiagnosticReport."""
        day, rng, record = visit.start.date(), self.rng, self.record
        egfr = self.egfr.measure(day, rng)
        # Creatinine moves inversely with filtration; the constant gives ~0.9 mg/dL at eGFR 95.
        creatinine = (0.95 if self.gender == "male" else 0.8) * (95 / egfr) ** 1.1
        glucose = 28.7 * self.hba1c.true_value(day) - 46.7 + rng.gauss(0, 8)
        values = (
            (Labs.GLUCOSE, glucose),
            (Labs.UREA, 14 + (95 - egfr) * 0.25 + rng.gauss(0, 2)),
            (Labs.CREATININE, creatinine),
            (Labs.CALCIUM, 9.4 + rng.gauss(0, 0.3)),
            (Labs.SODIUM, 140 + rng.gauss(0, 1.8)),
            (Labs.POTASSIUM, 4.2 + rng.gauss(0, 0.25)),
            (Labs.CHLORIDE, 103 + rng.gauss(0, 2)),
            (Labs.CO2, 25 + rng.gauss(0, 1.5)),
            (Labs.EGFR, egfr),
        )
        results = [(record.measurement(visit, lab, v), lab.code.display) for lab, v in values]
        record.report(visit, Panels.BMP, results)

    def lipid_panel(self, visit: Visit) -> None:
        """Record a lipid panel under one DiagnosticReport (total cholesterol by Friedewald)."""
        day, rng, record = visit.start.date(), self.rng, self.record
        ldl, hdl = self.ldl.measure(day, rng), self.hdl.measure(day, rng)
        tg = self.triglycerides.measure(day, rng)
        values = (
            (Labs.TOTAL_CHOLESTEROL, ldl + hdl + tg / 5),
            (Labs.TRIGLYCERIDES, tg),
            (Labs.LDL, ldl),
            (Labs.HDL, hdl),
        )
        results = [(record.measurement(visit, lab, v), lab.code.display) for lab, v in values]
        record.report(visit, Panels.LIPIDS, results)

    def blood_count(self, visit: Visit, wbc: float | None = None) -> None:
        """Record a complete blood count (white cells raised when ``wbc`` says so)."""
        rng, record = self.rng, self.record
        hemoglobin = (14.8 if self.gender == "male" else 13.4) + rng.gauss(0, 0.6)
        values = (
            (Labs.WBC, wbc if wbc is not None else 6.8 + rng.gauss(0, 1.2)),
            (Labs.HEMOGLOBIN, hemoglobin),
            (Labs.PLATELETS, 260 + rng.gauss(0, 40)),
        )
        results = [(record.measurement(visit, lab, v), lab.code.display) for lab, v in values]
        record.report(visit, Panels.CBC, results)

    # Routine care ------------------------------------------------------------------------------

    def plan_wellness(self) -> None:
        """Plan check-ups: the well-child schedule, then a yearly visit in the autumn."""
        if self.age(self.start) >= 19:
            # Tetanus boosters given before the record starts are not in it, but they count.
            self.vaccine_years["td"] = self.start.year - self.rng.randint(1, 9)
        months = (0, 1, 2, 4, 6, 9, 12, 15, 18, 24, 30)
        for month in months:
            day = self.birth_date + timedelta(days=max(3, round(month * 30.44)))
            self.schedule(day, self._well_child)
        first_year = max(self.start.year, self.birth_date.year + 3)
        for year in range(first_year, self.as_of.year + 1):
            day = date(year, self.wellness_month, self.rng.randint(1, 28))
            if self.age(day) >= 3:
                self.schedule(day, self._check_up)

    def _well_child(self, moment: datetime) -> None:
        visit = self.record.encounter(moment, 30, Encounters.WELL_CHILD, "AMB")
        self.vitals(visit)
        months = round(self.age(moment.date()) * 12)
        for vaccine in _CHILD_SCHEDULE.get(months, ()):
            self.record.immunize(visit, vaccine)
        if months >= 6 and moment.month in (9, 10, 11, 12):
            self.record.immunize(visit, Vaccines.FLU)

    def _check_up(self, moment: datetime) -> None:
        day = moment.date()
        age = self.age(day)
        kind = Encounters.CHECK_UP if age >= 18 else Encounters.WELL_CHILD
        visit = self.record.encounter(moment, 30, kind, "AMB")
        self.vitals(visit)
        record = self.record
        if age >= 16:
            record.coded_observation(visit, Panels.SMOKING_STATUS, self.smoking, "social-history")
        if self.has("diabetes") or self.has("prediabetes"):
            self.hba1c_test(visit)
        if self.has("diabetes"):
            self.record.measurement(visit, Labs.MICROALBUMIN, self._microalbumin(day))
        if age >= 40 or self.has("hypertension") or self.has("diabetes") or self.has("ckd"):
            self.metabolic_panel(visit)
        if self.has("hyperlipidemia") or (age >= 35 and day.year % 5 == 0):
            self.lipid_panel(visit)
        if age >= 18 and day.year % 3 == 0:
            self.blood_count(visit)
        record.immunize(visit, Vaccines.FLU)
        self._adult_vaccines(visit, age)
        if age >= 12:
            record.procedure(visit, Procedures.DEPRESSION_SCREENING)
        if age >= 18:
            record.procedure(visit, Procedures.SOCIAL_NEEDS)
        if self.medications:
            record.procedure(visit, Procedures.MED_RECONCILIATION)
        if self.has("diabetes"):
            record.procedure(visit, Procedures.RETINAL_EXAM, reason_id=self.conditions["diabetes"])

    def _microalbumin(self, day: date) -> float:
        raised = self.has("ckd") or self.egfr.true_value(day) < 70
        return (60.0 if raised else 12.0) * self.rng.uniform(0.7, 1.4)

    def _adult_vaccines(self, visit: Visit, age: float) -> None:
        year = visit.start.year
        given = self.vaccine_years
        if 4 <= age < 7 and "child-boosters" not in given:
            given["child-boosters"] = year
            for vaccine in (Vaccines.DTAP, Vaccines.IPV, Vaccines.MMR, Vaccines.VARICELLA):
                self.record.immunize(visit, vaccine)
        if age >= 19 and year - given.get("td", -99) >= 10:
            first = "td" not in given and age < 65
            self.record.immunize(visit, Vaccines.TDAP if first else Vaccines.TD)
            given["td"] = year
        if age >= 50 and "zoster" not in given:
            given["zoster"] = year
            self.record.immunize(visit, Vaccines.ZOSTER)
        if age >= 65 and "pcv13" not in given:
            given["pcv13"] = year
            self.record.immunize(visit, Vaccines.PCV13)
        elif age >= 66 and "ppsv23" not in given:
            given["ppsv23"] = year
            self.record.immunize(visit, Vaccines.PPSV23)

    def plan_covid_vaccines(self) -> None:
        """Two mRNA doses in early 2021 for adults, three weeks apart."""
        first = date(2021, 3, 1) + timedelta(days=self.rng.randint(0, 50))
        if self.age(first) < 18:
            return
        for day in (first, first + timedelta(days=21)):
            self.schedule(day, self._covid_dose)

    def _covid_dose(self, moment: datetime) -> None:
        visit = self.record.encounter(moment, 15, Encounters.CHECK_UP, "AMB")
        self.record.immunize(visit, Vaccines.COVID)


_CHILD_SCHEDULE: dict[int, tuple[Code, ...]] = {
    0: (Vaccines.HEPB_PED,),
    1: (Vaccines.HEPB_PED,),
    2: (Vaccines.DTAP, Vaccines.IPV, Vaccines.HIB, Vaccines.PCV13, Vaccines.ROTAVIRUS),
    4: (Vaccines.DTAP, Vaccines.IPV, Vaccines.HIB, Vaccines.PCV13, Vaccines.ROTAVIRUS),
    6: (Vaccines.DTAP, Vaccines.IPV, Vaccines.PCV13, Vaccines.HEPB_PED),
    12: (Vaccines.MMR, Vaccines.VARICELLA, Vaccines.HEPA_PED, Vaccines.HIB, Vaccines.PCV13),
    15: (Vaccines.DTAP,),
    18: (Vaccines.HEPA_PED,),
}
