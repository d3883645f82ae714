"""FHIR R4 resources for one patient's record, written the way Synthea writes them.

:class:`PatientRecord` turns clinical events (a visit, a measurement, a diagnosis, a prescription)
into resources that reference each other with ``urn:uuid:`` links, in the order they happened.
It knows FHIR shapes, not medicine: :mod:`fhir_fixtures.cohort.clinical` decides what happens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fhir_fixtures.cohort.identity import IdFactory
from fhir_fixtures.cohort.terminology import UCUM, Code, Lab, Panels

__all__ = ["Actors", "PatientRecord", "Visit", "fhir_instant"]

Resource = dict[str, Any]

_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_ENCOUNTER_CLASSES = {
    "AMB": "ambulatory",
    "EMER": "emergency",
    "IMP": "inpatient encounter",
    "VR": "virtual",
}
_OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
_ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
_ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
_REPORT_CATEGORY = "http://terminology.hl7.org/CodeSystem/v2-0074"


def fhir_instant(moment: datetime) -> str:
    """A FHIR dateTime with seconds and an explicit UTC offset, as Synthea writes them."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _ref(resource_id: str, display: str | None = None) -> dict[str, str]:
    ref = {"reference": f"urn:uuid:{resource_id}"}
    if display:
        ref["display"] = display
    return ref


def _quantity(lab: Lab, value: float) -> dict[str, object]:
    number: float | int = round(value, lab.decimals) if lab.decimals else round(value)
    return {"value": number, "unit": lab.unit, "system": UCUM, "code": lab.unit}


@dataclass(frozen=True)
class Actors:
    """Who provides care: the primary-care practice and clinician, the hospital and its doctor."""

    clinic_id: str
    clinic_name: str
    pcp_id: str
    pcp_name: str
    hospital_id: str
    hospital_name: str
    hospitalist_id: str
    hospitalist_name: str


@dataclass(frozen=True)
class Visit:
    """An encounter the record is being written for."""

    id: str
    start: datetime
    end: datetime
    practitioner_id: str


class PatientRecord:
    """Builds one patient's resources in the order the events happened.

    Args:
        ids: the patient's id factory.
        patient: the Patient resource (its ``id`` is used as the subject of everything else).
        actors: the organizations and practitioners that care for this patient.
        as_of: the reference date; a condition or medication ending after it is still active.
    """

    def __init__(self, ids: IdFactory, patient: Resource, actors: Actors, as_of: date) -> None:
        self._ids = ids
        self._as_of = as_of
        self.patient_id: str = patient["id"]
        self.actors = actors
        self.resources: list[Resource] = [patient]
        self._by_id: dict[str, Resource] = {patient["id"]: patient}

    def _add(self, resource: Resource) -> str:
        resource_id = self._ids.next()
        resource = {"resourceType": resource.pop("resourceType"), "id": resource_id, **resource}
        self.resources.append(resource)
        self._by_id[resource_id] = resource
        return resource_id

    def _subject(self) -> dict[str, str]:
        return _ref(self.patient_id)

    def encounter(
        self,
        start: datetime,
        minutes: int,
        kind: Code,
        encounter_class: str,
        *,
        reason: Code | None = None,
        at_hospital: bool = False,
    ) -> Visit:
        """Open an encounter; everything recorded for it references the returned visit."""
        actors = self.actors
        practitioner = actors.hospitalist_id if at_hospital else actors.pcp_id
        practitioner_name = actors.hospitalist_name if at_hospital else actors.pcp_name
        end = start + timedelta(minutes=minutes)
        resource: Resource = {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {
                "system": _ACT_CODE,
                "code": encounter_class,
                "display": _ENCOUNTER_CLASSES[encounter_class],
            },
            "type": [kind.concept()],
            "subject": self._subject(),
            "participant": [{"individual": _ref(practitioner, practitioner_name)}],
            "period": {"start": fhir_instant(start), "end": fhir_instant(end)},
        }
        if reason is not None:
            resource["reasonCode"] = [reason.concept()]
        resource["serviceProvider"] = _ref(
            actors.hospital_id if at_hospital else actors.clinic_id,
            actors.hospital_name if at_hospital else actors.clinic_name,
        )
        return Visit(self._add(resource), start, end, practitioner)

    def _observation_base(self, visit: Visit, code: Code, category: str) -> Resource:
        return {
            "resourceType": "Observation",
            "status": "final",
            "category": [
                {"coding": [{"system": _OBS_CATEGORY, "code": category, "display": category}]}
            ],
            "code": code.concept(),
            "subject": self._subject(),
            "encounter": _ref(visit.id),
            "effectiveDateTime": fhir_instant(visit.start),
            "issued": fhir_instant(visit.start + timedelta(minutes=30)),
        }

    def measurement(
        self, visit: Visit, lab: Lab, value: float, category: str = "laboratory"
    ) -> str:
        """Record a quantitative observation (a vital sign or a lab result)."""
        resource = self._observation_base(visit, lab.code, category)
        resource["valueQuantity"] = _quantity(lab, value)
        return self._add(resource)

    def blood_pressure(
        self, visit: Visit, systolic_lab: Lab, diastolic_lab: Lab, systolic: float, diastolic: float
    ) -> str:
        """Record a blood-pressure panel with its systolic and diastolic components."""
        resource = self._observation_base(visit, Panels.BLOOD_PRESSURE, "vital-signs")
        resource["component"] = [
            {
                "code": systolic_lab.code.concept(),
                "valueQuantity": _quantity(systolic_lab, systolic),
            },
            {
                "code": diastolic_lab.code.concept(),
                "valueQuantity": _quantity(diastolic_lab, diastolic),
            },
        ]
        return self._add(resource)

    def coded_observation(self, visit: Visit, code: Code, answer: Code, category: str) -> str:
        """Record an observation whose value is a code (smoking status, for instance)."""
        resource = self._observation_base(visit, code, category)
        resource["valueCodeableConcept"] = answer.concept()
        return self._add(resource)

    def report(self, visit: Visit, panel: Code, results: Sequence[tuple[str, str]]) -> str:
        """Group lab results (``(observation id, display)`` pairs) under a DiagnosticReport."""
        return self._add(
            {
                "resourceType": "DiagnosticReport",
                "status": "final",
                "category": [
                    {
                        "coding": [
                            {"system": _REPORT_CATEGORY, "code": "LAB", "display": "Laboratory"}
                        ]
                    }
                ],
                "code": panel.concept(),
                "subject": self._subject(),
                "encounter": _ref(visit.id),
                "effectiveDateTime": fhir_instant(visit.start),
                "issued": fhir_instant(visit.start + timedelta(minutes=45)),
                "result": [_ref(obs_id, display) for obs_id, display in results],
            }
        )

    def condition(
        self,
        visit: Visit,
        code: Code,
        *,
        onset: datetime | None = None,
        category: str = "encounter-diagnosis",
    ) -> str:
        """Record a diagnosis made at ``visit`` (onset defaults to the visit's start)."""
        return self._add(
            {
                "resourceType": "Condition",
                "clinicalStatus": {"coding": [{"system": _CONDITION_CLINICAL, "code": "active"}]},
                "verificationStatus": {
                    "coding": [{"system": _CONDITION_VERIFICATION, "code": "confirmed"}]
                },
                "category": [{"coding": [{"system": _CONDITION_CATEGORY, "code": category}]}],
                "code": code.concept(),
                "subject": self._subject(),
                "encounter": _ref(visit.id),
                "onsetDateTime": fhir_instant(onset or visit.start),
                "recordedDate": fhir_instant(visit.start),
            }
        )

    def resolve(self, condition_id: str, when: datetime) -> None:
        """Mark a condition as having ended at ``when`` (resolved once that date has passed)."""
        condition = self._by_id[condition_id]
        if when.date() <= self._as_of:
            condition["clinicalStatus"] = {
                "coding": [{"system": _CONDITION_CLINICAL, "code": "resolved"}]
            }
            condition["abatementDateTime"] = fhir_instant(when)

    def prescribe(
        self,
        visit: Visit,
        medication: Code,
        *,
        reason_id: str | None,
        dosage: str,
        per_day: int | None = 1,
        as_needed: bool = False,
    ) -> str:
        """Record a MedicationRequest ordered at ``visit`` for the condition ``reason_id``."""
        instruction: Resource = {"sequence": 1, "text": dosage, "asNeededBoolean": as_needed}
        if per_day is not None:
            instruction["timing"] = {
                "repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}
            }
        resource: Resource = {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": medication.concept(),
            "subject": self._subject(),
            "encounter": _ref(visit.id),
            "authoredOn": fhir_instant(visit.start),
            "requester": _ref(visit.practitioner_id),
            "dosageInstruction": [instruction],
        }
        if reason_id is not None:
            resource["reasonReference"] = [_ref(reason_id)]
        return self._add(resource)

    def end_medication(self, request_id: str, when: datetime, *, completed: bool = False) -> None:
        """Stop a prescription at ``when`` (or mark a finished course completed)."""
        request = self._by_id[request_id]
        if when.date() <= self._as_of:
            request["status"] = "completed" if completed else "stopped"
            request["dispenseRequest"] = {
                "validityPeriod": {"start": request["authoredOn"], "end": fhir_instant(when)}
            }

    def immunize(self, visit: Visit, vaccine: Code) -> str:
        """Record a vaccine given at ``visit``."""
        return self._add(
            {
                "resourceType": "Immunization",
                "status": "completed",
                "vaccineCode": vaccine.concept(),
                "patient": self._subject(),
                "encounter": _ref(visit.id),
                "occurrenceDateTime": fhir_instant(visit.start),
                "primarySource": True,
            }
        )

    def procedure(
        self, visit: Visit, code: Code, *, reason_id: str | None = None, minutes: int = 15
    ) -> str:
        """Record a procedure performed during ``visit``."""
        resource: Resource = {
            "resourceType": "Procedure",
            "status": "completed",
            "code": code.concept(),
            "subject": self._subject(),
            "encounter": _ref(visit.id),
            "performedPeriod": {
                "start": fhir_instant(visit.start),
                "end": fhir_instant(visit.start + timedelta(minutes=minutes)),
            },
        }
        if reason_id is not None:
            resource["reasonReference"] = [_ref(reason_id)]
        return self._add(resource)

    def allergy(
        self,
        recorded: datetime,
        code: Code,
        category: str,
        *,
        criticality: str,
        reaction: Code,
        severity: str,
    ) -> str:
        """Record an allergy the patient reported."""
        return self._add(
            {
                "resourceType": "AllergyIntolerance",
                "clinicalStatus": {"coding": [{"system": _ALLERGY_CLINICAL, "code": "active"}]},
                "verificationStatus": {
                    "coding": [{"system": _ALLERGY_VERIFICATION, "code": "confirmed"}]
                },
                "type": "allergy",
                "category": [category],
                "criticality": criticality,
                "code": code.concept(),
                "patient": self._subject(),
                "recordedDate": fhir_instant(recorded),
                "reaction": [{"manifestation": [reaction.concept()], "severity": severity}],
            }
        )

    def goal(self, description: str, addresses: Sequence[str]) -> str:
        """Record a treatment goal for the given conditions."""
        return self._add(
            {
                "resourceType": "Goal",
                "lifecycleStatus": "active",
                "achievementStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/goal-achievement",
                            "code": "in-progress",
                        }
                    ]
                },
                "description": {"text": description},
                "subject": self._subject(),
                "addresses": [_ref(c) for c in addresses],
            }
        )

    def care_plan(
        self,
        visit: Visit,
        category: Code,
        activities: Sequence[Code],
        *,
        addresses: Sequence[str],
        goals: Sequence[str] = (),
        end: datetime | None = None,
    ) -> str:
        """Record a care plan started at ``visit`` (completed once ``end`` has passed)."""
        finished = end is not None and end.date() <= self._as_of
        period = {"start": fhir_instant(visit.start)}
        if finished and end is not None:
            period["end"] = fhir_instant(end)
        resource: Resource = {
            "resourceType": "CarePlan",
            "status": "completed" if finished else "active",
            "intent": "order",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://hl7.org/fhir/us/core/CodeSystem/careplan-category",
                            "code": "assess-plan",
                        }
                    ]
                },
                category.concept(),
            ],
            "subject": self._subject(),
            "encounter": _ref(visit.id),
            "period": period,
            "addresses": [_ref(c) for c in addresses],
            "activity": [
                {
                    "detail": {
                        "code": activity.concept(),
                        "status": "completed" if finished else "in-progress",
                    }
                }
                for activity in activities
            ],
        }
        if goals:
            resource["goal"] = [_ref(g) for g in goals]
        return self._add(resource)

    def imaging_study(
        self,
        visit: Visit,
        *,
        modality: Code,
        body_site: Code,
        procedure: Code,
        title: str,
        study_uid: str,
        series_uid: str,
        instance_uid: str,
        sop_class: str,
        reason_id: str | None = None,
    ) -> str:
        """Record a one-series, one-instance imaging study (the shape Synthea writes)."""
        resource: Resource = {
            "resourceType": "ImagingStudy",
            "identifier": [
                {"use": "official", "system": "urn:ietf:rfc:3986", "value": f"urn:oid:{study_uid}"}
            ],
            "status": "available",
            "modality": [{"system": modality.system, "code": modality.code}],
            "subject": self._subject(),
            "encounter": _ref(visit.id),
            "started": fhir_instant(visit.start),
            "numberOfSeries": 1,
            "numberOfInstances": 1,
            "procedureCode": [procedure.concept()],
            "series": [
                {
                    "uid": series_uid,
                    "number": 1,
                    "modality": {
                        "system": modality.system,
                        "code": modality.code,
                        "display": modality.display,
                    },
                    "numberOfInstances": 1,
                    "bodySite": {
                        "system": body_site.system,
                        "code": body_site.code,
                        "display": body_site.display,
                    },
                    "started": fhir_instant(visit.start),
                    "instance": [
                        {
                            "uid": instance_uid,
                            "sopClass": {
                                "system": "urn:ietf:rfc:3986",
                                "code": f"urn:oid:{sop_class}",
                            },
                            "number": 1,
                            "title": title,
                        }
                    ],
                }
            ],
        }
        if reason_id is not None:
            resource["reasonReference"] = [_ref(reason_id)]
        return self._add(resource)
