"""What a patient says brought them in, for the diagnoses EHR-grounded cases are built on.

Synthea's FHIR output records diagnoses but not symptoms, so the presenting complaint of
an EHR-grounded case comes from this table: a lay description of how each condition
typically presents, written for this project and keyed by SNOMED CT code. No entry names
its diagnosis. Conditions found by screening (prediabetes, hypertension, anaemia...) are
presented as a routine check-up: the answer is in the visit's measurements, which the
doctor must request. A diagnosis without an entry here never becomes a case.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CHECK_UP", "COMPLAINTS", "SNOMED", "Complaint"]

SNOMED = "http://snomed.info/sct"


@dataclass(frozen=True)
class Complaint:
    """How the patient presents.

    Attributes:
        primary: The main complaint, in the patient's words.
        secondary: Other things the patient can report if asked.
        screening: True when the visit is a check-up and the finding comes from tests.
    """

    primary: str
    secondary: tuple[str, ...] = ()
    screening: bool = False


CHECK_UP = Complaint(
    "Here for a routine check-up; no specific complaints",
    ("Feels generally well",),
    screening=True,
)

COMPLAINTS: dict[str, Complaint] = {
    # Respiratory and ENT
    "444814009": Complaint(
        "Blocked, runny nose and pressure around the cheeks and eyes for about a week",
        ("Mild headache", "Started after a cold", "Clear nasal discharge"),
    ),
    "195662009": Complaint(
        "Sore throat for two days",
        ("Runny nose", "Mild cough", "Feeling tired", "Hoarse voice"),
    ),
    "43878008": Complaint(
        "Very sore throat with pain on swallowing",
        ("Fever", "No cough", "Tender lumps in the neck"),
    ),
    "10509002": Complaint(
        "Cough for about ten days",
        ("Coughing up mucus", "Chest sore from coughing", "Mild fever at the start"),
    ),
    "40055000": Complaint(
        "Blocked nose and facial pressure that have lasted for more than three months",
        ("Thick nasal discharge", "Reduced sense of smell", "Post-nasal drip"),
    ),
    "75498004": Complaint(
        "Facial pain and blocked nose that got worse again after a cold seemed to improve",
        ("Thick yellow-green nasal discharge", "Fever", "Pain when bending forward"),
    ),
    "65363002": Complaint(
        "Ear pain",
        ("Fever", "Muffled hearing on that side", "Recent cold"),
    ),
    "367498001": Complaint(
        "Sneezing, runny nose and itchy eyes every spring",
        ("Symptoms ease in winter",),
    ),
    "446096008": Complaint(
        "Sneezing and a runny, itchy nose all year round",
        ("Worse around dust and pets",),
    ),
    "87433001": Complaint(
        "Shortness of breath on exertion that has slowly got worse over years",
        ("Morning cough", "Long-time smoker"),
    ),
    # Abdominal and urinary
    "74400008": Complaint(
        "Abdominal pain that started around the belly button and moved to the lower right",
        ("Nausea", "Loss of appetite", "Low fever", "Pain worse when moving"),
    ),
    "38822007": Complaint(
        "Burning when passing urine",
        ("Passing urine often", "Discomfort low in the belly", "No fever"),
    ),
    "301011002": Complaint(
        "Burning when passing urine and needing to go often",
        ("Cloudy urine", "Lower abdominal discomfort"),
    ),
    # Injuries
    "44465007": Complaint(
        "Ankle pain and swelling after twisting it on uneven ground",
        ("Can walk, with a limp", "Bruising on the outer side"),
    ),
    "70704007": Complaint(
        "Wrist pain after falling on an outstretched hand",
        ("Swelling", "Can move the fingers"),
    ),
    "58150001": Complaint(
        "Pain at the front of the shoulder after falling onto it",
        ("Cannot lift the arm", "A tender bump below the neck"),
    ),
    "65966004": Complaint(
        "Forearm pain after a fall",
        ("Swelling", "Pain on turning the palm up"),
    ),
    "16114001": Complaint(
        "Ankle pain after a fall; cannot put weight on it",
        ("Swelling and bruising", "Heard a crack"),
    ),
    "359817006": Complaint(
        "Hip pain after a fall at home; cannot stand up",
        ("The leg looks shorter and turned outwards",),
    ),
    "62106007": Complaint(
        "Headache after a blow to the head",
        ("Dizziness", "Feeling foggy", "Did not pass out"),
    ),
    "284549007": Complaint(
        "A cut on the hand that keeps bleeding",
        ("Happened with a kitchen knife",),
    ),
    "307731004": Complaint(
        "Shoulder pain and weakness when lifting the arm",
        ("Pain at night when lying on that side",),
    ),
    # Musculoskeletal and skin
    "239873007": Complaint(
        "Knee pain that is worse after activity",
        ("Stiffness in the morning that eases within half an hour", "Creaking in the knee"),
    ),
    "239872002": Complaint(
        "Hip and groin pain that is worse with walking",
        ("Stiffness after sitting",),
    ),
    "201834006": Complaint(
        "Aching, stiff finger joints",
        ("Bony bumps at the finger joints",),
    ),
    "69896004": Complaint(
        "Painful, swollen joints in both hands",
        ("Morning stiffness lasting over an hour", "Tiredness"),
    ),
    "24079001": Complaint(
        "Itchy, dry, red patches of skin",
        ("Patches in the creases of the elbows and knees", "Worse in winter"),
    ),
    "241929008": Complaint(
        "Itchy raised rash and swollen lips shortly after eating",
        ("No trouble breathing",),
    ),
    # Neurological and mental
    "128613002": Complaint(
        "Had a fit with jerking of the whole body",
        ("Bit the tongue", "Confused for a while afterwards"),
    ),
    "84757009": Complaint(
        "Another fit with jerking of the whole body",
        ("Confused for a while afterwards",),
    ),
    "124171000119105": Complaint(
        "Severe headaches on most days for months",
        ("Throbbing pain on one side", "Light hurts the eyes", "Nausea"),
    ),
    "26929004": Complaint(
        "Family has noticed increasing forgetfulness",
        ("Repeats questions", "Got lost in a familiar place"),
    ),
    "192127007": Complaint(
        "Teachers report trouble paying attention and sitting still at school",
        ("Loses things", "Easily distracted"),
    ),
    "230690007": Complaint(
        "Sudden weakness of one side of the body",
        ("Trouble speaking", "One side of the face droops"),
    ),
    "368581000119106": Complaint(
        "Numbness and tingling in both feet",
        ("Burning pain at night",),
    ),
    # Found by screening at a check-up
    "15777000": CHECK_UP,
    "38341003": CHECK_UP,
    "271737000": CHECK_UP,
    "44054006": CHECK_UP,
    "55822004": CHECK_UP,
    "302870006": CHECK_UP,
    "80394007": CHECK_UP,
    "64859006": CHECK_UP,
}
