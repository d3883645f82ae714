"""Acute episodes and screening: infections, injuries, imaging.

Each function plans one episode: the visit, what was measured and found, what was prescribed, and
when it resolved. Chest radiographs also register a :class:`~.course.PlannedImage` so the generator
can draw an image whose findings match the episode.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fhir_fixtures.cohort.course import Course, PlannedImage
from fhir_fixtures.cohort.record import Visit
from fhir_fixtures.cohort.terminology import (
    BodySites,
    CarePlans,
    Code,
    Conditions,
    Encounters,
    Medications,
    Modalities,
    Procedures,
)

__all__ = [
    "ankle_sprain",
    "bronchitis",
    "colonoscopy",
    "mammogram",
    "otitis_media",
    "pneumonia",
    "sinusitis",
    "strep_throat",
]

# DICOM storage classes: digital X-ray and digital mammography, "for presentation".
_DX_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.1.1"
_MG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.1.2"


def _chest_xray(c: Course, visit: Visit, reason_id: str, finding: str) -> None:
    """A frontal chest radiograph, its ImagingStudy, and the image the generator will draw."""
    c.record.procedure(visit, Procedures.CHEST_XRAY, reason_id=reason_id, minutes=10)
    name = f"chest-{visit.id}"
    uids = (c.ids.uid(f"{name}/study"), c.ids.uid(f"{name}/series"))
    instance_uid = c.ids.uid(f"{name}/instance")
    study_id = c.record.imaging_study(
        visit,
        modality=Modalities.DX,
        body_site=BodySites.THORAX,
        procedure=Procedures.CHEST_XRAY,
        title="Chest X-ray, PA view",
        study_uid=uids[0],
        series_uid=uids[1],
        instance_uid=instance_uid,
        sop_class=_DX_SOP_CLASS,
        reason_id=reason_id,
    )
    # The first radiograph of a patient is shipped as DICOM, later ones as PNG, so both paths of
    # the image loader are exercised by the sample cohort.
    file_format = "png" if any(i.modality == "DX" for i in c.images) else "dcm"
    c.images.append(
        PlannedImage(
            study_id=study_id,
            study_uid=uids[0],
            series_uid=uids[1],
            instance_uid=instance_uid,
            sop_class=_DX_SOP_CLASS,
            modality="DX",
            started=visit.start,
            finding=finding,
            file_format=file_format,
        )
    )


def _short_course(
    c: Course, visit: Visit, medication: Code, reason_id: str, dosage: str, days: int, per_day: int
) -> None:
    request = c.record.prescribe(
        visit, medication, reason_id=reason_id, dosage=dosage, per_day=per_day
    )
    c.record.end_medication(request, visit.start + timedelta(days=days), completed=True)


def pneumonia(c: Course, day: date, *, admitted: bool, follow_up_xray: bool) -> None:
    """Community-acquired pneumonia, with a chest X-ray showing consolidation.

    Cough and fever, antibiotics, a hospital stay when ``admitted``, and a repeat X-ray (clear)
    six weeks later when ``follow_up_xray``.
    """

    def present(moment: datetime) -> None:
        rng, record = c.rng, c.record
        if admitted:
            visit = record.encounter(
                moment,
                240,
                Encounters.EMERGENCY,
                "EMER",
                reason=Conditions.PNEUMONIA,
                at_hospital=True,
            )
        else:
            visit = record.encounter(moment, 30, Encounters.SYMPTOM, "AMB", reason=Conditions.COUGH)
        c.vitals(
            visit,
            temperature=38.6 + rng.gauss(0, 0.3),
            spo2=(89 if admitted else 94) + rng.gauss(0, 1),
            heart_rate=104 + rng.gauss(0, 6),
            resp_rate=(25 if admitted else 20) + rng.gauss(0, 1.5),
        )
        c.blood_count(visit, wbc=15.5 + rng.gauss(0, 1.5))
        cough = record.condition(visit, Conditions.COUGH)
        fever = record.condition(visit, Conditions.FEVER)
        condition = record.condition(visit, Conditions.PNEUMONIA)
        _chest_xray(c, visit, condition, "consolidation")
        end = moment + timedelta(days=21)
        for symptom in (cough, fever):
            record.resolve(symptom, moment + timedelta(days=10))
        record.resolve(condition, end)
        if admitted:
            stay = record.encounter(
                visit.end,
                3 * 24 * 60,
                Encounters.ADMISSION,
                "IMP",
                reason=Conditions.PNEUMONIA,
                at_hospital=True,
            )
            record.procedure(stay, Procedures.OXYGEN, reason_id=condition, minutes=36 * 60)
            _short_course(
                c,
                stay,
                Medications.AMOXICILLIN_CLAV,
                condition,
                "1 tablet by mouth every 8 hours for 7 days",
                7,
                3,
            )
            plan_visit = stay
        else:
            _short_course(
                c,
                visit,
                Medications.AZITHROMYCIN,
                condition,
                "2 tablets on day 1, then 1 tablet daily for 4 days",
                5,
                1,
            )
            plan_visit = visit
        record.care_plan(
            plan_visit,
            CarePlans.INFECTION,
            (CarePlans.REST, CarePlans.BREATHING_CONTROL),
            addresses=[condition],
            end=end,
        )
        c.conditions["pneumonia-episode"] = condition

    def follow_up(moment: datetime) -> None:
        visit = c.record.encounter(
            moment, 20, Encounters.FOLLOW_UP, "AMB", reason=Conditions.PNEUMONIA
        )
        c.vitals(visit, spo2=96 + c.rng.gauss(0, 1))
        _chest_xray(c, visit, c.conditions.pop("pneumonia-episode"), "clear")

    c.schedule(day, present)
    if follow_up_xray:
        c.schedule(day + timedelta(days=42), follow_up)


def bronchitis(c: Course, day: date, *, xray_finding: str | None) -> None:
    """Acute bronchitis with a lingering cough; a chest X-ray when ``xray_finding`` is given."""

    def present(moment: datetime) -> None:
        record = c.record
        visit = record.encounter(moment, 25, Encounters.SYMPTOM, "AMB", reason=Conditions.COUGH)
        c.vitals(visit, temperature=37.4 + c.rng.gauss(0, 0.2), spo2=96 + c.rng.gauss(0, 1))
        condition = record.condition(visit, Conditions.BRONCHITIS)
        if xray_finding is not None:
            _chest_xray(c, visit, condition, xray_finding)
        record.resolve(condition, moment + timedelta(days=18))
        request = record.prescribe(
            visit,
            Medications.ACETAMINOPHEN,
            reason_id=condition,
            dosage="2 tablets by mouth every 6 hours as needed",
            per_day=None,
            as_needed=True,
        )
        record.end_medication(request, moment + timedelta(days=14), completed=True)

    c.schedule(day, present)


def sinusitis(c: Course, day: date) -> None:
    """Viral sinusitis, resolving in about ten days without antibiotics."""

    def present(moment: datetime) -> None:
        visit = c.record.encounter(moment, 20, Encounters.SYMPTOM, "AMB")
        c.vitals(visit, temperature=37.3 + c.rng.gauss(0, 0.2))
        condition = c.record.condition(visit, Conditions.SINUSITIS)
        c.record.resolve(condition, moment + timedelta(days=10))

    c.schedule(day, present)


def strep_throat(c: Course, day: date, *, penicillin_allergy: bool) -> None:
    """Strep throat: a throat culture, ten days of penicillin (azithromycin if allergic)."""

    def present(moment: datetime) -> None:
        visit = c.record.encounter(moment, 20, Encounters.SYMPTOM, "AMB")
        c.vitals(visit, temperature=38.4 + c.rng.gauss(0, 0.3))
        c.record.procedure(visit, Procedures.THROAT_CULTURE)
        condition = c.record.condition(visit, Conditions.STREP_THROAT)
        c.record.resolve(condition, moment + timedelta(days=9))
        if penicillin_allergy:
            _short_course(
                c,
                visit,
                Medications.AZITHROMYCIN,
                condition,
                "2 tablets on day 1, then 1 tablet daily for 4 days",
                5,
                1,
            )
        else:
            _short_course(
                c,
                visit,
                Medications.PENICILLIN_V,
                condition,
                "2 tablets by mouth twice daily for 10 days",
                10,
                2,
            )

    c.schedule(day, present)


def otitis_media(c: Course, day: date) -> None:
    """Acute otitis media in a child, treated with amoxicillin."""

    def present(moment: datetime) -> None:
        visit = c.record.encounter(moment, 20, Encounters.SYMPTOM, "AMB")
        c.vitals(visit, temperature=38.2 + c.rng.gauss(0, 0.3))
        condition = c.record.condition(visit, Conditions.OTITIS_MEDIA)
        c.record.resolve(condition, moment + timedelta(days=12))
        _short_course(
            c,
            visit,
            Medications.AMOXICILLIN,
            condition,
            "1 capsule by mouth three times daily for 10 days",
            10,
            3,
        )

    c.schedule(day, present)


def ankle_sprain(c: Course, day: date) -> None:
    """An ankle sprain seen in the emergency department, with an ankle radiograph (no fracture)."""

    def present(moment: datetime) -> None:
        record = c.record
        visit = record.encounter(
            moment,
            120,
            Encounters.EMERGENCY,
            "EMER",
            reason=Conditions.ANKLE_SPRAIN,
            at_hospital=True,
        )
        c.vitals(visit)
        condition = record.condition(visit, Conditions.ANKLE_SPRAIN)
        record.procedure(visit, Procedures.ANKLE_XRAY, reason_id=condition, minutes=10)
        name = f"ankle-{visit.id}"
        record.imaging_study(
            visit,
            modality=Modalities.DX,
            body_site=BodySites.ANKLE,
            procedure=Procedures.ANKLE_XRAY,
            title="Ankle X-ray, AP and lateral views",
            study_uid=c.ids.uid(f"{name}/study"),
            series_uid=c.ids.uid(f"{name}/series"),
            instance_uid=c.ids.uid(f"{name}/instance"),
            sop_class=_DX_SOP_CLASS,
            reason_id=condition,
        )
        record.resolve(condition, moment + timedelta(days=28))
        request = record.prescribe(
            visit,
            Medications.IBUPROFEN,
            reason_id=condition,
            dosage="2 tablets by mouth every 6 hours as needed for pain",
            per_day=None,
            as_needed=True,
        )
        record.end_medication(request, moment + timedelta(days=14), completed=True)

    c.schedule(day, present)


def mammogram(c: Course, day: date) -> None:
    """A screening mammogram (an ImagingStudy the chest-image loader must leave alone)."""

    def present(moment: datetime) -> None:
        visit = c.record.encounter(moment, 30, Encounters.CHECK_UP, "AMB")
        c.record.procedure(visit, Procedures.MAMMOGRAPHY, minutes=20)
        name = f"mammogram-{visit.id}"
        c.record.imaging_study(
            visit,
            modality=Modalities.MG,
            body_site=BodySites.BREAST,
            procedure=Procedures.MAMMOGRAPHY,
            title="Screening mammogram",
            study_uid=c.ids.uid(f"{name}/study"),
            series_uid=c.ids.uid(f"{name}/series"),
            instance_uid=c.ids.uid(f"{name}/instance"),
            sop_class=_MG_SOP_CLASS,
        )

    c.schedule(day, present)


def colonoscopy(c: Course, day: date) -> None:
    """A screening colonoscopy as an outpatient procedure."""

    def present(moment: datetime) -> None:
        visit = c.record.encounter(moment, 90, Encounters.CHECK_UP, "AMB", at_hospital=True)
        c.record.procedure(visit, Procedures.COLONOSCOPY, minutes=45)

    c.schedule(day, present)
