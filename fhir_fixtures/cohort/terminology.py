"""The codes the sample cohort uses, with the displays Synthea writes for them.

Every code here appears in Synthea's own modules or in the Synthea R4 sample data (LOINC for
observations, SNOMED CT for conditions, procedures, encounter types and care plans, RxNorm for
medications, CVX for vaccines), so questions written against real Synthea output read the same way
against the sample cohort.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CVX",
    "DCM",
    "LOINC",
    "RXNORM",
    "SNOMED",
    "UCUM",
    "Code",
    "Lab",
]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
UCUM = "http://unitsofmeasure.org"
DCM = "http://dicom.nema.org/resources/ontology/DCM"


@dataclass(frozen=True)
class Code:
    """One coding: system, code and display."""

    system: str
    code: str
    display: str

    def concept(self) -> dict[str, object]:
        """The CodeableConcept Synthea writes: one coding, and its display again as text."""
        return {
            "coding": [{"system": self.system, "code": self.code, "display": self.display}],
            "text": self.display,
        }


@dataclass(frozen=True)
class Lab:
    """A quantitative observation: its LOINC code, UCUM unit and the decimals it is reported to."""

    code: Code
    unit: str
    decimals: int = 1


def _snomed(code: str, display: str) -> Code:
    return Code(SNOMED, code, display)


def _loinc(code: str, display: str) -> Code:
    return Code(LOINC, code, display)


def _rx(code: str, display: str) -> Code:
    return Code(RXNORM, code, display)


def _cvx(code: str, display: str) -> Code:
    return Code(CVX, code, display)


class Encounters:
    """Encounter types (SNOMED CT)."""

    CHECK_UP = _snomed("185349003", "Encounter for check up (procedure)")
    WELL_CHILD = _snomed("410620009", "Well child visit (procedure)")
    SYMPTOM = _snomed("185345009", "Encounter for symptom (procedure)")
    PROBLEM = _snomed("185347001", "Encounter for problem (procedure)")
    FOLLOW_UP = _snomed("390906007", "Follow-up encounter (procedure)")
    EMERGENCY = _snomed("50849002", "Emergency room admission (procedure)")
    ADMISSION = _snomed("32485007", "Hospital admission (procedure)")
    TELEHEALTH = _snomed("448337001", "Telemedicine consultation with patient (procedure)")
    ASTHMA_FOLLOW_UP = _snomed("394701000", "Asthma follow-up (regime/therapy)")


class Conditions:
    """Problems and diagnoses (SNOMED CT)."""

    PREDIABETES = _snomed("714628002", "Prediabetes (finding)")
    DIABETES_T2 = _snomed("44054006", "Diabetes mellitus type 2 (disorder)")
    HYPERTENSION = _snomed("59621000", "Essential hypertension (disorder)")
    HYPERLIPIDEMIA = _snomed("55822004", "Hyperlipidemia (disorder)")
    ASTHMA = _snomed("195967001", "Asthma (disorder)")
    CHILDHOOD_ASTHMA = _snomed("233678006", "Childhood asthma (disorder)")
    COPD = _snomed("185086009", "Chronic obstructive bronchitis (disorder)")
    CKD2 = _snomed("431856006", "Chronic kidney disease stage 2 (disorder)")
    CKD3 = _snomed("433144002", "Chronic kidney disease stage 3 (disorder)")
    OBESITY = _snomed("162864005", "Body mass index 30+ - obesity (finding)")
    PNEUMONIA = _snomed("233604007", "Pneumonia (disorder)")
    COUGH = _snomed("49727002", "Cough (finding)")
    FEVER = _snomed("386661006", "Fever (finding)")
    BRONCHITIS = _snomed("10509002", "Acute bronchitis (disorder)")
    SINUSITIS = _snomed("444814009", "Viral sinusitis (disorder)")
    PHARYNGITIS = _snomed("195662009", "Acute viral pharyngitis (disorder)")
    STREP_THROAT = _snomed("43878008", "Streptococcal sore throat (disorder)")
    OTITIS_MEDIA = _snomed("65363002", "Otitis media (disorder)")
    ANKLE_SPRAIN = _snomed("44465007", "Sprain of ankle (disorder)")
    SMOKER = _snomed("449868002", "Smokes tobacco daily (finding)")


class Medications:
    """Drugs (RxNorm)."""

    METFORMIN = _rx("860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet")
    INSULIN = _rx(
        "106892",
        "insulin isophane, human 70 UNT/ML / insulin, regular, human 30 UNT/ML Injectable "
        "Suspension [Humulin]",
    )
    LISINOPRIL = _rx("314076", "lisinopril 10 MG Oral Tablet")
    HCTZ = _rx("310798", "Hydrochlorothiazide 25 MG Oral Tablet")
    AMLODIPINE = _rx("308136", "amLODIPine 2.5 MG Oral Tablet")
    SIMVASTATIN = _rx("312961", "Simvastatin 20 MG Oral Tablet")
    ATORVASTATIN = _rx("259255", "atorvastatin 80 MG Oral Tablet")
    ALBUTEROL = _rx("2123111", "NDA020503 200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler")
    FLUTICASONE = _rx(
        "895996", "120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler [Flovent]"
    )
    FLUTICASONE_SALMETEROL = _rx(
        "896209",
        "60 ACTUAT Fluticasone propionate 0.25 MG/ACTUAT / salmeterol 0.05 MG/ACTUAT Dry Powder "
        "Inhaler",
    )
    AMOXICILLIN = _rx("308182", "Amoxicillin 250 MG Oral Capsule")
    AMOXICILLIN_CLAV = _rx("562251", "Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet")
    AZITHROMYCIN = _rx("308460", "Azithromycin 250 MG Oral Tablet")
    PENICILLIN_V = _rx("834061", "Penicillin V Potassium 250 MG Oral Tablet")
    IBUPROFEN = _rx("310965", "Ibuprofen 200 MG Oral Tablet")
    ACETAMINOPHEN = _rx("313782", "Acetaminophen 325 MG Oral Tablet")


class Vaccines:
    """Vaccines (CVX)."""

    FLU = _cvx("140", "Influenza, seasonal, injectable, preservative free")
    TD = _cvx("113", "Td (adult) preservative free")
    TDAP = _cvx("115", "Tdap")
    ZOSTER = _cvx("187", "zoster vaccine recombinant")
    PCV13 = _cvx("133", "Pneumococcal conjugate PCV 13")
    PPSV23 = _cvx("33", "pneumococcal polysaccharide vaccine, 23 valent")
    COVID = _cvx(
        "208",
        "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL "
        "dose",
    )
    HEPB_PED = _cvx("08", "Hep B, adolescent or pediatric")
    DTAP = _cvx("20", "DTaP")
    IPV = _cvx("10", "IPV")
    HIB = _cvx("49", "Hib (PRP-OMP)")
    ROTAVIRUS = _cvx("119", "rotavirus, monovalent")
    MMR = _cvx("03", "MMR")
    VARICELLA = _cvx("21", "varicella")
    HEPA_PED = _cvx("83", "Hep A, ped/adol, 2 dose")


class Procedures:
    """Procedures (SNOMED CT)."""

    MED_RECONCILIATION = _snomed("430193006", "Medication reconciliation (procedure)")
    DEPRESSION_SCREENING = _snomed("171207006", "Depression screening (procedure)")
    SOCIAL_NEEDS = _snomed("710824005", "Assessment of health and social care needs (procedure)")
    CHEST_XRAY = _snomed("399208008", "Plain X-ray of chest (procedure)")
    ANKLE_XRAY = _snomed("1290459008", "Plain X-ray of ankle region (procedure)")
    MAMMOGRAPHY = _snomed("71651007", "Mammography (procedure)")
    SPIROMETRY = _snomed("127783003", "Spirometry (procedure)")
    COLONOSCOPY = _snomed("73761001", "Colonoscopy (procedure)")
    RETINAL_EXAM = _snomed("722161008", "Diabetic retinal eye exam (procedure)")
    THROAT_CULTURE = _snomed("117015009", "Throat culture (procedure)")
    NEBULIZER = _snomed("53950000", "Respiratory therapy (procedure)")
    OXYGEN = _snomed("57485005", "Oxygen therapy (procedure)")


class BodySites:
    """Body structures (SNOMED CT) for imaging."""

    THORAX = _snomed("51185008", "Thoracic structure (body structure)")
    ANKLE = _snomed("344001", "Ankle region structure (body structure)")
    BREAST = _snomed("76752008", "Breast structure (body structure)")


class Modalities:
    """DICOM modalities."""

    CR = Code(DCM, "CR", "Computed Radiography")
    DX = Code(DCM, "DX", "Digital Radiography")
    MG = Code(DCM, "MG", "Mammography")


class CarePlans:
    """Care plan categories and activities (SNOMED CT)."""

    DIABETES = _snomed("735985000", "Diabetes self management plan (record artifact)")
    HYPERTENSION = _snomed("443402002", "Lifestyle education regarding hypertension (procedure)")
    HYPERLIPIDEMIA = _snomed(
        "736285004", "Hyperlipidemia clinical management plan (record artifact)"
    )
    ASTHMA = _snomed("699728000", "Asthma self management (regime/therapy)")
    COPD = _snomed(
        "736283006",
        "Chronic obstructive pulmonary disease clinical management plan (record artifact)",
    )
    INFECTION = _snomed("736376001", "Infectious disease care plan (record artifact)")
    DIABETIC_DIET = _snomed("160670007", "Diabetic diet (finding)")
    EXERCISE = _snomed("229065009", "Exercise therapy (regime/therapy)")
    EXERCISE_EDUCATION = _snomed("386463000", "Prescribed activity/exercise education (procedure)")
    DASH_DIET = _snomed(
        "1151000175103", "Dietary Approaches to Stop Hypertension diet (regime/therapy)"
    )
    INHALED_STEROID = _snomed("710818004", "Inhaled steroid therapy (procedure)")
    SMOKING_CESSATION = _snomed("225323000", "Smoking cessation education (procedure)")
    BREATHING_CONTROL = _snomed("229298005", "Breathing control (regime/therapy)")
    REST = _snomed("183051005", "Recommendation to rest (procedure)")


class Allergies:
    """Allergies (SNOMED CT) with the FHIR category they belong to."""

    PEANUT = (_snomed("91935009", "Allergy to peanuts"), "food")
    SHELLFISH = (_snomed("300913006", "Shellfish allergy"), "food")
    GRASS_POLLEN = (_snomed("418689008", "Allergy to grass pollen"), "environment")
    DUST_MITE = (_snomed("232350006", "House dust mite allergy"), "environment")
    CAT_DANDER = (_snomed("232347008", "Dander (animal) allergy"), "environment")
    PENICILLIN = (_snomed("91936005", "Allergy to penicillin (finding)"), "medication")
    LATEX = (_snomed("300916003", "Latex allergy"), "environment")
    REACTION_HIVES = _snomed("247472004", "Wheal (finding)")
    REACTION_RHINITIS = _snomed("878820003", "Rhinoconjunctivitis (disorder)")
    REACTION_RASH = _snomed("271807003", "Eruption of skin (disorder)")
    REACTION_ANAPHYLAXIS = _snomed("39579001", "Anaphylaxis (disorder)")


class Labs:
    """Quantitative observations (LOINC, UCUM)."""

    HEIGHT = Lab(_loinc("8302-2", "Body Height"), "cm")
    WEIGHT = Lab(_loinc("29463-7", "Body Weight"), "kg")
    BMI = Lab(_loinc("39156-5", "Body Mass Index"), "kg/m2")
    HEART_RATE = Lab(_loinc("8867-4", "Heart rate"), "/min", 0)
    RESP_RATE = Lab(_loinc("9279-1", "Respiratory rate"), "/min", 0)
    TEMPERATURE = Lab(_loinc("8310-5", "Body temperature"), "Cel")
    SPO2 = Lab(_loinc("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"), "%", 0)
    SYSTOLIC = Lab(_loinc("8480-6", "Systolic Blood Pressure"), "mm[Hg]", 0)
    DIASTOLIC = Lab(_loinc("8462-4", "Diastolic Blood Pressure"), "mm[Hg]", 0)
    HBA1C = Lab(_loinc("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"), "%")
    GLUCOSE = Lab(_loinc("2339-0", "Glucose"), "mg/dL", 0)
    UREA = Lab(_loinc("6299-2", "Urea Nitrogen"), "mg/dL", 0)
    CREATININE = Lab(_loinc("38483-4", "Creatinine"), "mg/dL", 2)
    CALCIUM = Lab(_loinc("49765-1", "Calcium"), "mg/dL")
    SODIUM = Lab(_loinc("2947-0", "Sodium"), "mmol/L", 0)
    POTASSIUM = Lab(_loinc("6298-4", "Potassium"), "mmol/L")
    CHLORIDE = Lab(_loinc("2069-3", "Chloride"), "mmol/L", 0)
    CO2 = Lab(_loinc("20565-8", "Carbon Dioxide"), "mmol/L", 0)
    EGFR = Lab(_loinc("33914-3", "Estimated Glomerular Filtration Rate"), "mL/min/{1.73_m2}", 0)
    TOTAL_CHOLESTEROL = Lab(_loinc("2093-3", "Total Cholesterol"), "mg/dL", 0)
    TRIGLYCERIDES = Lab(_loinc("2571-8", "Triglycerides"), "mg/dL", 0)
    LDL = Lab(_loinc("18262-6", "Low Density Lipoprotein Cholesterol"), "mg/dL", 0)
    HDL = Lab(_loinc("2085-9", "High Density Lipoprotein Cholesterol"), "mg/dL", 0)
    MICROALBUMIN = Lab(_loinc("14959-1", "Microalbumin Creatinine Ratio"), "mg/g")
    WBC = Lab(_loinc("6690-2", "Leukocytes [#/volume] in Blood by Automated count"), "10*3/uL")
    HEMOGLOBIN = Lab(_loinc("718-7", "Hemoglobin [Mass/volume] in Blood"), "g/dL")
    PLATELETS = Lab(
        _loinc("777-3", "Platelets [#/volume] in Blood by Automated count"), "10*3/uL", 0
    )
    FEV1_FVC = Lab(_loinc("19926-5", "FEV1/FVC"), "%", 0)


class Panels:
    """DiagnosticReport panel codes (LOINC) and observation panels."""

    BLOOD_PRESSURE = _loinc("55284-4", "Blood Pressure")
    BMP = _loinc("51990-0", "Basic Metabolic Panel")
    LIPIDS = _loinc("57698-3", "Lipid Panel")
    CBC = _loinc("58410-2", "Complete blood count (hemogram) panel - Blood by Automated count")
    SMOKING_STATUS = _loinc("72166-2", "Tobacco smoking status NHIS")


class SmokingStatus:
    """Answers to the smoking-status question (SNOMED CT)."""

    NEVER = _snomed("266919005", "Never smoked tobacco (finding)")
    FORMER = _snomed("8517006", "Ex-smoker (finding)")
    CURRENT = _snomed("449868002", "Smokes tobacco daily (finding)")
