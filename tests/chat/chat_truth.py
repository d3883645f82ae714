"""Ground truth of the chat tests, read from the raw Synthea bundles with gzip and json."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Minh and Sylvia Monahan (two patients match "Monahan") and Clemente Kreiger.
CHAT_PATIENTS = ("Minh_Monahan_", "Sylvia_Monahan_", "Clemente_Kreiger_")


@dataclass(frozen=True)
class ChatTruth:
    """What the three patients' raw bundles say."""

    patients: dict[str, dict[str, Any]]
    """Patient resources by given name."""
    conditions: dict[str, str]
    """Sylvia's Condition ids -> display."""
    hyperlipidemia: str
    """Sylvia's hyperlipidemia Condition id."""
    simvastatin: dict[str, str]
    """Sylvia's simvastatin MedicationRequest ids -> authoredOn."""

    def id_of(self, given: str) -> str:
        return str(self.patients[given]["id"])


def read_chat_truth(chat_bundles: list[Path]) -> ChatTruth:
    """Ground truth from the raw bundles, read with gzip and json."""
    patients: dict[str, dict[str, Any]] = {}
    conditions: dict[str, str] = {}
    simvastatin: dict[str, str] = {}
    for path in chat_bundles:
        resources = [e["resource"] for e in json.loads(gzip.decompress(path.read_bytes()))["entry"]]
        patient = next(r for r in resources if r["resourceType"] == "Patient")
        given = patient["name"][0]["given"][0]
        patients[given] = patient
        if given != "Sylvia":
            continue
        for res in resources:
            if res["resourceType"] == "Condition":
                conditions[res["id"]] = res["code"]["coding"][0]["display"]
            if res["resourceType"] == "MedicationRequest":
                drug = res["medicationCodeableConcept"]["coding"][0]["display"]
                if "simvistatin" in drug.lower():
                    simvastatin[res["id"]] = res["authoredOn"]
    hyperlipidemia = [cid for cid, name in conditions.items() if name == "Hyperlipidemia"]
    assert len(hyperlipidemia) == 1
    assert simvastatin
    return ChatTruth(patients, conditions, hyperlipidemia[0], simvastatin)
