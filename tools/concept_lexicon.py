"""A small clinical lexicon: the words people use, mapped to codes and display terms.

Each :class:`Concept` lists the phrases that name it (``aliases``), the codes that mean
it (bare codes or ``system|code``) and display ``terms`` that identify it inside longer
displays (drug ingredients for a drug class, "influenza" for a flu shot). Resolution in
:mod:`tools.concepts` only ever returns codes present in one patient's record; the lexicon
just tells it what to look for. Codes come from the public code systems (LOINC, SNOMED
CT, RxNorm ingredients, CVX); nothing here is specific to one data set.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LEXICON", "Concept"]

OBS = ("Observation",)
LAB = ("Observation", "DiagnosticReport")
COND = ("Condition",)
MED = ("MedicationRequest",)
IMM = ("Immunization",)
PROC = ("Procedure",)
ALLERGY = ("AllergyIntolerance",)
ENC = ("Encounter",)
PLAN = ("CarePlan",)
IMAGING = ("ImagingStudy", "Media", "DiagnosticReport", "Procedure")


@dataclass(frozen=True)
class Concept:
    """One clinical concept and the ways it is named and coded."""

    name: str
    aliases: tuple[str, ...]
    types: tuple[str, ...]
    codes: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    #: Display terms that rule a product out (a brand of plain naproxen is not naproxen sodium).
    exclude: tuple[str, ...] = ()


def _c(
    name: str,
    aliases: str,
    types: tuple[str, ...],
    codes: str = "",
    terms: str = "",
    exclude: str = "",
) -> Concept:
    """Compact constructor: aliases and terms are ';'-separated, codes space-separated.

    A term matches whole words of a display (plural ``s``/``es`` allowed); a term ending in
    ``*`` matches any word starting with it.
    """
    return Concept(
        name=name,
        aliases=tuple(a.strip() for a in aliases.split(";") if a.strip()),
        types=types,
        codes=tuple(codes.split()),
        terms=tuple(t.strip() for t in terms.split(";") if t.strip()),
        exclude=tuple(t.strip() for t in exclude.split(";") if t.strip()),
    )


_VITALS = (
    _c(
        "body height", "height; body height; stature; length; how tall", OBS, "8302-2 8306-3 8308-9"
    ),
    _c(
        "body weight",
        "weight; body weight; wt; how heavy; heavy; weigh; mass",
        OBS,
        "29463-7 3141-9 8335-2",
    ),
    _c("body mass index", "bmi; body mass index; body mass", OBS, "39156-5"),
    _c(
        "blood pressure",
        "blood pressure; bp; b/p; blood pressures; arterial pressure",
        OBS,
        "55284-4 85354-9 8480-6 8462-4",
    ),
    _c(
        "systolic blood pressure",
        "systolic; systolic bp; systolic blood pressure; sbp",
        OBS,
        "8480-6",
    ),
    _c(
        "diastolic blood pressure",
        "diastolic; diastolic bp; diastolic blood pressure; dbp",
        OBS,
        "8462-4",
    ),
    _c("heart rate", "heart rate; hr; pulse; pulse rate; heartbeat", OBS, "8867-4"),
    _c("respiratory rate", "respiratory rate; rr; breathing rate; respirations", OBS, "9279-1"),
    _c(
        "body temperature",
        "temperature; temp; body temperature; fever; oral temperature",
        OBS,
        "8310-5 8331-1",
    ),
    _c(
        "oxygen saturation",
        "oxygen saturation; o2 sat; spo2; sao2; pulse ox; pulse oximetry; oxygen",
        OBS,
        "2708-6 59408-5",
    ),
    _c("pain score", "pain; pain score; pain severity; pain level", OBS, "72514-3"),
    _c("head circumference", "head circumference; ofc", OBS, "9843-4 8287-5"),
    _c("smoking status", "smoking; smoking status; tobacco; smoker; tobacco use", OBS, "72166-2"),
)

_LABS = (
    _c(
        "hemoglobin a1c",
        "a1c; hba1c; hb a1c; hgba1c; hemoglobin a1c; haemoglobin a1c; glycated hemoglobin; "
        "glycosylated hemoglobin; glycohemoglobin; sugar control; diabetes control; "
        "average blood sugar; average glucose; three month sugar",
        OBS,
        "4548-4 17856-6 4549-2",
    ),
    _c(
        "glucose",
        "glucose; blood glucose; blood sugar; sugar; glucose level; serum glucose; fasting glucose",
        OBS,
        "2339-0 2345-7 41653-7",
    ),
    _c("urea nitrogen", "bun; blood urea nitrogen; urea nitrogen; urea", OBS, "6299-2 3094-0"),
    _c("creatinine", "creatinine; creat; serum creatinine", OBS, "38483-4 2160-0"),
    _c("calcium", "calcium; ca; serum calcium", OBS, "49765-1 17861-6"),
    _c("sodium", "sodium; na; serum sodium", OBS, "2947-0 2951-2"),
    _c("potassium", "potassium; k; k+; serum potassium", OBS, "6298-4 2823-3"),
    _c("chloride", "chloride; cl; serum chloride", OBS, "2069-3 2075-0"),
    _c(
        "carbon dioxide",
        "carbon dioxide; co2; bicarbonate; bicarb; total co2",
        OBS,
        "20565-8 2028-9",
    ),
    _c("total cholesterol", "total cholesterol; serum total cholesterol", OBS, "2093-3"),
    _c(
        "cholesterol",
        "cholesterol; chol; serum cholesterol",
        OBS,
        "2093-3 18262-6 13457-7 2089-1 2085-9",
    ),
    _c(
        "ldl cholesterol",
        "ldl; ldl cholesterol; ldl-c; bad cholesterol; low density lipoprotein",
        OBS,
        "18262-6 13457-7 2089-1",
    ),
    _c(
        "hdl cholesterol",
        "hdl; hdl cholesterol; hdl-c; good cholesterol; high density lipoprotein",
        OBS,
        "2085-9",
    ),
    _c("triglycerides", "triglycerides; triglyceride; tg; trigs", OBS, "2571-8"),
    _c(
        "kidney function",
        "kidney function; renal function; kidney tests; renal panel; kidney numbers; "
        "kidney labs; renal labs",
        OBS,
        "33914-3 62238-1 48643-1 48642-3 69405-9 38483-4 2160-0 6299-2 3094-0",
    ),
    _c(
        "glomerular filtration rate",
        "egfr; gfr; glomerular filtration rate; estimated gfr; filtration rate",
        OBS,
        "33914-3 62238-1 48643-1 48642-3 69405-9",
    ),
    _c(
        "electrolytes",
        "electrolytes; lytes; serum electrolytes",
        OBS,
        "2947-0 2951-2 6298-4 2823-3 2069-3 2075-0 20565-8 2028-9",
    ),
    _c("hemoglobin", "hemoglobin; haemoglobin; hgb; hb", OBS, "718-7"),
    _c("hematocrit", "hematocrit; haematocrit; hct", OBS, "4544-3 20570-8"),
    _c("mcv", "mcv; mean corpuscular volume", OBS, "787-2"),
    _c("mch", "mch; mean corpuscular hemoglobin", OBS, "785-6"),
    _c("mchc", "mchc; mean corpuscular hemoglobin concentration", OBS, "786-4"),
    _c("platelets", "platelets; platelet count; plt; thrombocytes", OBS, "777-3"),
    _c(
        "white blood cells",
        "wbc; white blood cells; white count; leukocytes; white cell count",
        OBS,
        "6690-2",
    ),
    _c(
        "red blood cells",
        "rbc; red blood cells; red cell count; erythrocytes; red cells",
        OBS,
        "789-8",
    ),
    _c("rdw", "rdw; red cell distribution width; erythrocyte distribution width", OBS, "21000-5"),
    _c(
        "urine albumin creatinine ratio",
        "microalbumin; microalbumin creatinine ratio; urine albumin; uacr; acr; "
        "urine microalbumin; albumin creatinine ratio",
        OBS,
        "14959-1 9318-7",
    ),
    _c("total protein", "total protein; protein; serum protein", OBS, "2885-2"),
    _c("albumin", "albumin; serum albumin", OBS, "1751-7"),
    _c("globulin", "globulin", OBS, "10834-0"),
    _c("bilirubin", "bilirubin; total bilirubin; tbili", OBS, "1975-2"),
    _c("alkaline phosphatase", "alkaline phosphatase; alk phos; alp", OBS, "6768-6"),
    _c("alanine aminotransferase", "alt; sgpt; alanine aminotransferase", OBS, "1742-6"),
    _c("aspartate aminotransferase", "ast; sgot; aspartate aminotransferase", OBS, "1920-8"),
    _c(
        "liver function",
        "liver function; lfts; lft; liver tests; liver panel",
        OBS,
        "1742-6 1920-8 6768-6 1975-2",
    ),
    _c("liver enzymes", "liver enzymes; transaminases", OBS, "1742-6 1920-8 6768-6"),
    _c(
        "fev1/fvc",
        "fev1/fvc; fev1 fvc; lung function; spirometry result; pulmonary function",
        OBS,
        "19926-5",
    ),
    _c("psa", "psa; prostate specific antigen", OBS, "2857-1"),
    _c("tsh", "tsh; thyroid stimulating hormone; thyroid function", OBS, "3016-3"),
    _c("inr", "inr; pt/inr; prothrombin time", OBS, "6301-6 5902-2"),
    _c(
        "bone density",
        "bone density; dxa; dexa; t-score; bone mineral density; dexa scan; bone density scan; "
        "dxa scan",
        OBS + PROC,
        "38265-5 312681000",
        "bone density",
    ),
    _c("mmse", "mmse; mini mental; mini-mental state; cognitive score", OBS, "72106-8"),
    _c(
        "stool occult blood",
        "fobt; fit; occult blood; fecal occult blood; stool blood; fecal immunochemical test; "
        "stool test for blood; stool occult blood",
        OBS + PROC,
        "57905-2 1015401000000102",
        "occult blood",
    ),
    _c("cause of death", "cause of death; death cause", OBS, "69453-9"),
    _c(
        "ige allergy test",
        "ige; allergy test; allergy panel; ige antibody; allergy blood test",
        OBS,
        "",
        "IgE",
    ),
    _c(
        "lipid panel",
        "lipid panel; lipids; lipid profile; fasting lipids",
        LAB,
        "57698-3",
        "cholesterol; triglycerides",
    ),
    _c(
        "basic metabolic panel",
        "bmp; basic metabolic panel; chem 7; chem7; basic panel",
        LAB,
        "51990-0 24321-2",
    ),
    _c(
        "comprehensive metabolic panel",
        "cmp; comprehensive metabolic panel; chem 14; chem14",
        LAB,
        "24323-8 24322-0",
    ),
    _c(
        "metabolic panel",
        "metabolic panel; metabolic panels; chemistry panel; chem panel",
        LAB,
        "51990-0 24321-2 24323-8 24322-0",
    ),
    _c(
        "hemoglobin and hematocrit",
        "h&h; h and h; hemoglobin and hematocrit",
        OBS,
        "718-7 4544-3 20570-8",
    ),
    _c(
        "complete blood count",
        "cbc; complete blood count; blood count; hemogram",
        LAB,
        "58410-2 57021-8",
    ),
    _c("urinalysis", "urinalysis; ua; urine test; urine dipstick", LAB, "24357-6 24356-8", "Urine"),
)

_CONDITIONS = (
    _c(
        "diabetes",
        "diabetes; diabetes mellitus; dm; t2dm; type 2 diabetes; diabetic; sugar diabetes",
        COND,
        "44054006 46635009 73211009",
        "diabetes; diabetic",
    ),
    _c(
        "prediabetes",
        "prediabetes; pre-diabetes; borderline diabetes; impaired glucose",
        COND,
        "15777000",
    ),
    _c(
        "hypertension",
        "hypertension; high blood pressure; htn; elevated blood pressure",
        COND,
        "38341003 59621000",
        "hypertension; hypertensive",
    ),
    _c(
        "hyperlipidemia",
        "hyperlipidemia; high cholesterol; dyslipidemia; hypercholesterolemia",
        COND,
        "55822004 13644009 302870006",
        "hyperlipidemia; hypercholesterolemia",
    ),
    _c("hypertriglyceridemia", "hypertriglyceridemia; high triglycerides", COND, "302870006"),
    _c(
        "obesity",
        "obesity; obese; overweight; bmi 30+",
        COND,
        "162864005 408512008",
        "obesity; obese",
    ),
    _c(
        "anemia",
        "anemia; anaemia; low hemoglobin; low blood count",
        COND,
        "271737000",
        "anemia; anaemia",
    ),
    _c("asthma", "asthma; asthmatic", COND, "195967001 233678006", "asthma"),
    _c(
        "copd",
        "copd; chronic obstructive pulmonary disease; emphysema; chronic bronchitis",
        COND,
        "13645005 185086009 87433001",
        "chronic obstructive; emphysema",
    ),
    _c(
        "chronic kidney disease",
        "ckd; chronic kidney disease; kidney disease; renal disease; renal failure; kidney failure",
        COND,
        "431855005 431856006 433144002 46177005 709044004",
        "kidney disease; renal disease; renal failure; nephropathy",
    ),
    _c(
        "heart attack",
        "heart attack; myocardial infarction; mi; ami; stemi; nstemi",
        COND,
        "22298006 401303003 401314000",
        "myocardial infarction",
    ),
    _c(
        "stroke",
        "stroke; cva; cerebrovascular accident; brain attack",
        COND,
        "230690007",
        "stroke; cerebrovascular",
    ),
    _c(
        "heart failure",
        "heart failure; chf; congestive heart failure",
        COND,
        "88805009 84114007",
        "heart failure",
    ),
    _c(
        "atrial fibrillation",
        "atrial fibrillation; afib; a-fib; af",
        COND,
        "49436004",
        "atrial fibrillation",
    ),
    _c(
        "coronary artery disease",
        "coronary artery disease; cad; coronary heart disease; ischemic heart disease",
        COND,
        "53741008",
        "coronary",
    ),
    _c("cardiac arrest", "cardiac arrest; heart stopped", COND, "410429000", "cardiac arrest"),
    _c(
        "depression",
        "depression; depressive disorder; major depression; low mood",
        COND,
        "370143000 36923009",
        "depress*",
    ),
    _c("anxiety", "anxiety; anxiety disorder; gad", COND, "197480006", "anxiety"),
    _c(
        "seizure disorder",
        "seizure disorder; seizure disorders",
        COND,
        "128613002 84757009",
        "seizure disorder; epilepsy",
    ),
    _c("epilepsy", "epilepsy; epileptic", COND, "84757009", "epilepsy"),
    _c(
        "migraine",
        "migraine; migraines; migraine headache; migraine headaches",
        COND,
        "37796009",
        "migraine",
    ),
    _c(
        "seizure",
        "seizures; seizure; convulsions; fits",
        COND,
        "128613002 84757009 703151001",
        "seizure; epilepsy",
    ),
    _c(
        "osteoarthritis",
        "osteoarthritis; oa; arthritis; degenerative joint disease",
        COND,
        "396275006 239872002 239873007",
        "osteoarthritis; arthritis",
    ),
    _c("rheumatoid arthritis", "rheumatoid arthritis; ra", COND, "69896004", "rheumatoid"),
    _c(
        "osteoporosis",
        "osteoporosis; brittle bones; low bone density",
        COND,
        "64859006",
        "osteoporosis",
    ),
    _c(
        "sinusitis",
        "sinusitis; sinus infection; sinus",
        COND,
        "444814009 40055000 36971009",
        "sinusitis",
    ),
    _c(
        "pharyngitis",
        "sore throat; pharyngitis; throat infection",
        COND,
        "195662009 43878008",
        "pharyngitis; sore throat",
    ),
    _c(
        "streptococcal pharyngitis",
        "strep throat; strep; streptococcal sore throat; streptococcal pharyngitis",
        COND,
        "43878008",
        "streptococcal",
    ),
    _c(
        "adhd",
        "adhd; add; attention deficit; attention deficit disorder; hyperactivity",
        COND,
        "192127007 406506008",
        "attention deficit",
    ),
    _c("bronchitis", "bronchitis; chest cold", COND, "10509002", "bronchitis"),
    _c("pneumonia", "pneumonia; lung infection", COND, "233604007", "pneumonia"),
    _c(
        "urinary tract infection",
        "uti; urinary tract infection; bladder infection; cystitis",
        COND,
        "68566005 38822007",
        "urinary tract infection; cystitis",
    ),
    _c(
        "otitis media",
        "ear infection; otitis media; otitis; middle ear infection",
        COND,
        "65363002",
        "otitis",
    ),
    _c("appendicitis", "appendicitis", COND, "74400008", "appendicitis"),
    _c(
        "fracture",
        "fracture; fractures; broken bone; broken bones; broke; break",
        COND,
        "",
        "fracture",
    ),
    _c("sprain", "sprain; sprained", COND, "", "sprain"),
    _c(
        "concussion",
        "concussion; head injury; brain injury; tbi",
        COND,
        "62106007 110030002",
        "concussion; brain injury",
    ),
    _c("laceration", "laceration; cut; wound", COND, "", "laceration"),
    _c("pregnancy", "pregnancy; pregnant; expecting", COND, "72892002", "pregnan*"),
    _c(
        "miscarriage",
        "miscarriage; spontaneous abortion; pregnancy loss",
        COND,
        "19169002",
        "miscarriage",
    ),
    _c(
        "cancer",
        "cancer; malignancy; tumor; tumour; carcinoma; neoplasm",
        COND,
        "",
        "cancer; carcinoma; neoplasm; malignant; tumor; lymphoma; leukemia",
    ),
    _c("colon polyp", "polyp; colon polyp; polyps", COND, "68496003", "polyp"),
    _c(
        "alzheimer's disease",
        "alzheimer; alzheimers; alzheimer's; dementia",
        COND,
        "26929004 230265002",
        "alzheimer; dementia",
    ),
    _c(
        "allergic rhinitis",
        "hay fever; allergic rhinitis; seasonal allergies; rhinitis",
        COND,
        "232353008 367498001",
        "rhinitis",
    ),
    _c(
        "atopic dermatitis",
        "eczema; atopic dermatitis; dermatitis",
        COND,
        "24079001",
        "dermatitis; eczema",
    ),
    _c("drug overdose", "overdose; drug overdose", COND, "55680006", "overdose"),
    _c(
        "opioid abuse",
        "opioid abuse; opioid use disorder; addiction; drug abuse",
        COND,
        "5602001",
        "abuse; dependence",
    ),
    _c(
        "neuropathy",
        "neuropathy; nerve damage; diabetic nerve damage; diabetic neuropathy",
        COND,
        "368581000119106",
        "neuropathy",
    ),
    _c(
        "type 1 diabetes",
        "type 1 diabetes; t1dm; dm1; juvenile diabetes; iddm",
        COND,
        "46635009",
        "type 1",
    ),
    _c("blighted ovum", "blighted ovum; anembryonic pregnancy", COND, "35999006", "blighted ovum"),
    _c("hyperglycemia", "hyperglycemia; high blood sugar", COND, "80394007", "hyperglycemia"),
    _c(
        "metabolic syndrome",
        "metabolic syndrome; syndrome x",
        COND,
        "237602007",
        "metabolic syndrome",
    ),
    _c("gout", "gout", COND, "90560007", "gout"),
    _c(
        "tubal pregnancy",
        "ectopic pregnancy; tubal pregnancy; ectopic",
        COND,
        "79586000",
        "tubal pregnancy; ectopic",
    ),
    _c(
        "impacted molars",
        "impacted molars; wisdom teeth; impacted teeth",
        COND,
        "196416002",
        "impacted molar",
    ),
    _c(
        "history of appendectomy",
        "appendectomy history; history of appendectomy",
        COND,
        "428251008",
        "appendectomy",
    ),
)

_STATINS = (
    "atorvastatin; simvastatin; simvistatin; rosuvastatin; pravastatin; lovastatin; "
    "fluvastatin; pitavastatin"
)
_ANTIHYPERTENSIVES = (
    "hydrochlorothiazide; chlorthalidone; lisinopril; enalapril; ramipril; benazepril; "
    "losartan; valsartan; irbesartan; olmesartan; amlodipine; nifedipine; diltiazem; "
    "verapamil; metoprolol; atenolol; carvedilol; propranolol; hydralazine; clonidine; "
    "spironolactone; furosemide"
)
_ANTIBIOTICS = (
    "amoxicillin; clavulanate; penicillin; ampicillin; cephalexin; cefuroxime; cefdinir; "
    "ceftriaxone; azithromycin; clarithromycin; erythromycin; doxycycline; minocycline; "
    "ciprofloxacin; levofloxacin; moxifloxacin; nitrofurantoin; sulfamethoxazole; "
    "trimethoprim; clindamycin; metronidazole; vancomycin; cefazolin; piperacillin"
)
_NSAIDS = "ibuprofen; naproxen; aspirin; diclofenac; celecoxib; meloxicam; ketorolac; indomethacin"
_OPIOIDS = (
    "oxycodone; hydrocodone; meperidine; morphine; fentanyl; codeine; tramadol; "
    "hydromorphone; buprenorphine; methadone; tapentadol"
)
_CONTRACEPTIVES = (
    "28 day pack; 21 day pack; norethindrone; ethinyl estradiol; levonorgestrel; "
    "etonogestrel; medroxyprogesterone; norelgestromin; drospirenone; desogestrel; "
    "norgestimate; dienogest; intrauterine; nuvaring; mirena; kyleena; liletta; skyla; "
    "jolivette; camila; errin; trinessa; natazia; levora; yaz; yasmin; sprintec; "
    "contraceptive"
)

_MEDICATIONS = (
    _c(
        "statin",
        "statin; statins; cholesterol medication; cholesterol medicine; "
        "cholesterol drug; lipid lowering drug; hmg-coa reductase inhibitor",
        MED,
        "",
        _STATINS,
    ),
    _c("metformin", "metformin; glucophage", MED, "", "metformin"),
    _c(
        "insulin",
        "insulin; insulins",
        MED,
        "",
        "insulin; humulin; novolin; glargine; lispro; aspart; detemir; degludec",
    ),
    _c(
        "diabetes medication",
        "diabetes medication; diabetes medicine; diabetes drug; antidiabetic; "
        "oral hypoglycemic; blood sugar medication; diabetic medication",
        MED,
        "",
        "metformin; insulin; humulin; glipizide; glyburide; glimepiride; sitagliptin; "
        "liraglutide; semaglutide; empagliflozin; canagliflozin; dapagliflozin; pioglitazone",
    ),
    _c(
        "antihypertensive",
        "blood pressure medication; blood pressure medicine; blood pressure "
        "pill; antihypertensive; antihypertensives; bp medication; hypertension medication",
        MED,
        "",
        _ANTIHYPERTENSIVES,
    ),
    _c(
        "diuretic",
        "diuretic; water pill; water pills; diuretics",
        MED,
        "",
        "hydrochlorothiazide; chlorthalidone; furosemide; spironolactone; bumetanide; "
        "torsemide; triamterene",
    ),
    _c("hydrochlorothiazide", "hydrochlorothiazide; hctz", MED, "", "hydrochlorothiazide"),
    _c(
        "blood thinner",
        "blood thinner; blood thinners; anticoagulant; anticoagulants; antiplatelet",
        MED,
        "",
        "warfarin; heparin; enoxaparin; apixaban; rivaroxaban; dabigatran; edoxaban; "
        "clopidogrel; ticagrelor; prasugrel",
    ),
    _c("antibiotic", "antibiotic; antibiotics; antibacterial", MED, "", _ANTIBIOTICS),
    _c(
        "penicillin",
        "penicillin; penicillins",
        MED,
        "",
        "penicillin; amoxicillin; ampicillin; piperacillin",
    ),
    _c("amoxicillin", "amoxicillin", MED, "", "amoxicillin"),
    _c(
        "painkiller",
        "painkiller; painkillers; pain medication; pain medicine; pain reliever; "
        "analgesic; analgesics; pain pills",
        MED,
        "",
        "acetaminophen; " + _NSAIDS + "; " + _OPIOIDS,
    ),
    _c("nsaid", "nsaid; nsaids; anti-inflammatory; antiinflammatory", MED, "", _NSAIDS),
    _c(
        "opioid",
        "opioid; opioids; opiate; opiates; narcotic; narcotics; narcotic painkiller; "
        "narcotic painkillers; opioid painkiller; opioid painkillers",
        MED,
        "",
        _OPIOIDS,
    ),
    _c("acetaminophen", "acetaminophen; tylenol; paracetamol; apap", MED, "", "acetaminophen"),
    _c("ibuprofen", "ibuprofen; advil; motrin", MED, "", "ibuprofen"),
    _c("naproxen", "naproxen; aleve", MED, "", "naproxen"),
    _c("aspirin", "aspirin; asa; baby aspirin", MED, "", "aspirin"),
    _c("oxycodone", "oxycodone; percocet; oxycontin", MED, "", "oxycodone"),
    _c("hydrocodone", "hydrocodone; vicodin; norco", MED, "", "hydrocodone"),
    _c("meperidine", "meperidine; demerol", MED, "", "meperidine"),
    _c(
        "birth control",
        "birth control; contraceptive; contraceptives; contraception",
        MED,
        "",
        _CONTRACEPTIVES,
    ),
    _c(
        "birth control pill",
        "the pill; birth control pill; birth control pills; oral contraceptive; "
        "oral contraceptives",
        MED,
        "",
        "28 day pack; 21 day pack",
    ),
    _c("inhaler", "inhaler; inhalers; puffer", MED, "", "inhaler; actuat; inhal*"),
    _c(
        "asthma medication",
        "asthma medication; asthma medicine; asthma inhaler; asthma medication",
        MED,
        "",
        "albuterol; salbutamol; fluticasone; salmeterol; budesonide; formoterol; "
        "montelukast; tiotropium; ipratropium; beclomethasone",
    ),
    _c("albuterol", "albuterol; salbutamol; ventolin; proair", MED, "", "albuterol"),
    _c(
        "rescue inhaler",
        "rescue inhaler; reliever inhaler; bronchodilator; quick relief inhaler",
        MED,
        "",
        "albuterol; salbutamol; levalbuterol; ipratropium",
    ),
    _c(
        "steroid inhaler",
        "steroid inhaler; inhaled steroid; inhaled corticosteroid; "
        "controller inhaler; preventer inhaler",
        MED,
        "",
        "fluticasone; budesonide; beclomethasone; mometasone; ciclesonide",
    ),
    _c("lantus", "lantus; insulin glargine; basaglar; toujeo", MED, "", "glargine"),
    _c("humulin", "humulin; novolin; humulin 70/30", MED, "", "humulin; novolin"),
    _c("naprosyn", "naprosyn", MED, "", "naproxen", "sodium"),
    _c("amoxil", "amoxil", MED, "", "amoxicillin", "clavulanate"),
    _c(
        "co-amoxiclav",
        "co-amoxiclav; augmentin; amoxicillin clavulanate; amox-clav",
        MED,
        "",
        "clavulanate",
    ),
    _c("penicillin v", "pen vk; penicillin v; penicillin vk; veetids", MED, "", "penicillin v"),
    _c("pethidine", "pethidine", MED, "", "meperidine"),
    _c(
        "etonogestrel implant",
        "nexplanon; implanon; contraceptive implant; birth control implant; arm implant",
        MED,
        "",
        "etonogestrel",
    ),
    _c(
        "medroxyprogesterone",
        "depo-provera; depo provera; depo shot; depo; "
        "medroxyprogesterone; birth control shot; contraceptive injection",
        MED,
        "",
        "medroxyprogesterone",
    ),
    _c(
        "contraceptive patch",
        "ortho evra; xulane; the patch; birth control patch; contraceptive patch",
        MED,
        "",
        "norelgestromin; transdermal system",
    ),
    _c(
        "mini pill",
        "mini pill; minipill; progestin only pill; progestin-only pill; pop",
        MED,
        "",
        "jolivette; camila; errin; nora-be; heather; norethindrone 0.35",
    ),
    _c(
        "hormonal iud",
        "hormonal iud; levonorgestrel iud; mirena; kyleena; liletta; skyla",
        MED,
        "",
        "mirena; kyleena; liletta; skyla; levonorgestrel 52; intrauterine system",
    ),
    _c("astemizole", "astemizole; hismanal", MED, "", "astemizole"),
    _c("oxaliplatin", "oxaliplatin; eloxatin", MED, "", "oxaliplatin"),
    _c("leucovorin", "leucovorin; folinic acid; calcium folinate", MED, "", "leucovorin"),
    _c("fluticasone", "fluticasone; flovent; flonase; advair", MED, "", "fluticasone"),
    _c(
        "antihistamine",
        "antihistamine; antihistamines; allergy medication; allergy medicine; allergy pill",
        MED,
        "",
        "loratadine; cetirizine; fexofenadine; diphenhydramine; astemizole; levocetirizine; "
        "chlorpheniramine; doxylamine",
    ),
    _c("loratadine", "loratadine; claritin", MED, "", "loratadine"),
    _c("diphenhydramine", "diphenhydramine; benadryl", MED, "", "diphenhydramine"),
    _c("fexofenadine", "fexofenadine; allegra", MED, "", "fexofenadine"),
    _c(
        "epinephrine",
        "epinephrine; epipen; epi pen; adrenaline; auto-injector",
        MED,
        "",
        "epinephrine",
    ),
    _c(
        "steroid",
        "steroid; steroids; corticosteroid; corticosteroids",
        MED,
        "",
        "prednisone; prednisolone; hydrocortisone; methylprednisolone; dexamethasone; "
        "fluticasone; budesonide; beclomethasone; triamcinolone",
    ),
    _c("prednisone", "prednisone", MED, "", "prednisone"),
    _c(
        "chemotherapy",
        "chemotherapy; chemo; cancer drugs",
        MED,
        "",
        "oxaliplatin; leucovorin; fluorouracil; cisplatin; carboplatin; paclitaxel; "
        "docetaxel; cyclophosphamide; doxorubicin; capecitabine",
    ),
    _c(
        "immunosuppressant",
        "immunosuppressant; immunosuppressants",
        MED,
        "",
        "cyclosporine; tacrolimus; methotrexate; mycophenolate; azathioprine",
    ),
    _c("methotrexate", "methotrexate; trexall", MED, "", "methotrexate"),
    _c("cyclosporine", "cyclosporine; ciclosporin; neoral", MED, "", "cyclosporine"),
    _c(
        "anticonvulsant",
        "anticonvulsant; antiepileptic; seizure medication; seizure medicine",
        MED,
        "",
        "carbamazepine; levetiracetam; phenytoin; valproate; valproic; lamotrigine; "
        "topiramate; oxcarbazepine",
    ),
    _c("carbamazepine", "carbamazepine; tegretol", MED, "", "carbamazepine"),
    _c(
        "iron supplement",
        "iron; iron supplement; iron pills; ferrous sulfate",
        MED,
        "",
        "ferrous; iron",
    ),
    _c(
        "vitamin b12",
        "b12; vitamin b12; cyanocobalamin; b12 shot",
        MED,
        "",
        "vitamin b 12; vitamin b12; cyanocobalamin",
    ),
    _c(
        "alendronate", "alendronate; alendronic acid; fosamax; bisphosphonate", MED, "", "alendron*"
    ),
    _c("nitrofurantoin", "nitrofurantoin; macrobid; macrodantin", MED, "", "nitrofurantoin"),
    _c("phenazopyridine", "phenazopyridine; pyridium", MED, "", "phenazopyridine"),
    _c("alteplase", "alteplase; tpa; clot buster; activase", MED, "", "alteplase"),
    _c(
        "cough and cold medicine",
        "cough medicine; cold medicine; nyquil; cough syrup",
        MED,
        "",
        "dextromethorphan; doxylamine; guaifenesin",
    ),
    _c("simvastatin", "simvastatin; zocor", MED, "", "simvastatin; simvistatin"),
    _c("atorvastatin", "atorvastatin; lipitor", MED, "", "atorvastatin"),
)

_IMMUNIZATIONS = (
    _c(
        "influenza vaccine",
        "flu shot; flu shots; flu vaccine; influenza vaccine; influenza; "
        "flu jab; flu immunization; flu",
        IMM,
        "140 141 150 155 158 161 88 135 144 153 166 168 171 185 186 197 200 205",
        "influenza",
    ),
    _c(
        "tetanus vaccine",
        "tetanus; tetanus shot; td; td booster; tetanus booster; lockjaw",
        IMM,
        "113 09 138 139 115 20 106 107 110 120 146 50 102 130 132",
        "td; tdap; dtap; tetanus",
    ),
    _c("tdap vaccine", "tdap; boostrix; adacel", IMM, "115", "tdap"),
    _c(
        "pertussis vaccine",
        "whooping cough; whooping cough vaccine; pertussis; pertussis vaccine",
        IMM,
        "115 20 106 107 110 120 146 50 102 130 132",
        "tdap; dtap",
    ),
    _c(
        "diphtheria vaccine",
        "diphtheria; diphtheria vaccine",
        IMM,
        "113 09 138 139 115 20 106 107 110 120 146 50 102 130 132",
        "td; tdap; dtap",
    ),
    _c("dtap vaccine", "dtap; dtp", IMM, "20 106 107 110 120 146 50 102 130 132", "dtap"),
    _c(
        "pneumococcal vaccine",
        "pneumonia vaccine; pneumonia shot; pneumococcal; pneumococcal vaccine",
        IMM,
        "133 33 152 100 109 215 216",
        "pneumococcal",
    ),
    _c("pcv13", "pcv13; prevnar; prevnar 13; pneumococcal conjugate", IMM, "133 152 215 216"),
    _c("ppsv23", "ppsv23; pneumovax; pneumococcal polysaccharide", IMM, "33 109"),
    _c("shingrix", "shingrix; recombinant zoster", IMM, "187"),
    _c("zostavax", "zostavax; live zoster", IMM, "121"),
    _c(
        "zoster vaccine",
        "shingles vaccine; shingles shot; shingles; zoster",
        IMM,
        "121 187 188",
        "zoster",
    ),
    _c(
        "hpv vaccine",
        "hpv; hpv vaccine; gardasil; human papillomavirus",
        IMM,
        "62 118 137 165",
        "hpv",
    ),
    _c(
        "hepatitis b vaccine",
        "hep b; hepatitis b; hep b vaccine; hepatitis b vaccine; hbv",
        IMM,
        "08 43 44 45 110 51 102 104 146 189",
        "hep b",
    ),
    _c(
        "hepatitis a vaccine",
        "hep a; hepatitis a; hep a vaccine; hepatitis a vaccine",
        IMM,
        "52 83 84 85 31 104",
        "hep a",
    ),
    _c("mmr vaccine", "mmr; measles; mumps; rubella; measles vaccine", IMM, "03 94", "mmr"),
    _c(
        "varicella vaccine",
        "chickenpox vaccine; varicella; chickenpox; chicken pox",
        IMM,
        "21 94",
        "varicella",
    ),
    _c("polio vaccine", "polio; polio vaccine; ipv", IMM, "10 89 110 120 130 146", "ipv; polio"),
    _c(
        "hib vaccine",
        "hib; haemophilus influenzae type b",
        IMM,
        "49 17 46 47 48 50 51 120 148",
        "hib",
    ),
    _c("rotavirus vaccine", "rotavirus; rotavirus vaccine", IMM, "119 116 122", "rotavirus"),
    _c(
        "meningococcal vaccine",
        "meningococcal; meningitis vaccine; mcv4; menactra; menveo",
        IMM,
        "114 136 147 108 148 162 163 203",
        "meningococcal",
    ),
    _c(
        "covid-19 vaccine",
        "covid vaccine; covid-19 vaccine; coronavirus vaccine; covid shot",
        IMM,
        "207 208 210 211 212 213 217 218 219 221 228 229 230 300 301 302",
        "covid; sars-cov-2",
    ),
)

_PROCEDURES = (
    _c("colonoscopy", "colonoscopy; colon screening", PROC, "73761001", "colonoscopy"),
    _c(
        "mammogram",
        "mammogram; mammography; breast screening",
        PROC + IMAGING,
        "71651007 24623002",
        "mammogra*",
    ),
    _c(
        "pap smear",
        "pap smear; pap test; pap; cervical smear; cervical screening",
        PROC,
        "90226004",
        "cytopathology; smear; cervical",
    ),
    _c(
        "appendectomy",
        "appendectomy; appendix removal; appendix surgery",
        PROC,
        "80146002",
        "appendectomy",
    ),
    _c(
        "colectomy",
        "colectomy; colon resection; bowel resection; colon surgery",
        PROC,
        "43075005 26390003",
        "resection of colon; colectomy",
    ),
    _c(
        "spirometry",
        "spirometry; lung function test; pulmonary function test; pft; breathing test; lung test",
        PROC,
        "127783003 23426006",
        "spirometry; respiratory function",
    ),
    _c(
        "depression screening",
        "depression screening; phq; depression screen",
        PROC,
        "171207006 715252007",
        "depression screening",
    ),
    _c(
        "allergy shots",
        "allergy shots; immunotherapy; allergy injections; desensitization; "
        "allergy desensitization; allergen immunotherapy",
        PROC,
        "180256009",
        "immunotherapy",
    ),
    _c(
        "medication review",
        "medication review; medication reconciliation; med rec; "
        "documentation of current medications",
        PROC,
        "428191000124101",
        "current medications",
    ),
    _c(
        "physical therapy",
        "physical therapy; physiotherapy; pt; rehab",
        PROC + PLAN,
        "91251008",
        "physical therapy; physiotherapy; rehabilitation",
    ),
    _c(
        "cognitive behavioral therapy",
        "cbt; cognitive behavioral therapy; therapy; psychotherapy; counseling",
        PROC,
        "228557008",
        "cognitive and behavioral",
    ),
    _c(
        "ultrasound",
        "ultrasound; sonogram; ultrasonography",
        PROC + IMAGING,
        "",
        "ultrasound; ultrasonography; sonograph*",
    ),
    _c("pregnancy test", "pregnancy test", PROC, "252160004", "pregnancy test"),
    _c(
        "dental procedure",
        "dental; dentist; tooth extraction; teeth; dental cleaning",
        PROC,
        "",
        "dental; tooth; teeth; molar; gingiv*",
    ),
    _c("suture", "stitches; suture; sutures; wound closure", PROC, "288086009", "suture"),
    _c(
        "iud insertion", "iud; iud insertion; intrauterine device", PROC, "65200003", "intrauterine"
    ),
    _c(
        "cesarean section",
        "c-section; cesarean; caesarean; cesarean section",
        PROC,
        "11466000",
        "cesarean; caesarean",
    ),
    _c(
        "screening for sexually transmitted infections",
        "std test; sti test; std screening",
        PROC,
        "",
        "chlamydia; gonorrhea; syphilis; human immunodeficiency virus",
    ),
    _c("hiv test", "hiv test; hiv", PROC + OBS, "31676001", "human immunodeficiency virus; hiv"),
    _c(
        "strep test",
        "strep test; rapid strep; throat culture; throat swab",
        PROC,
        "117015009",
        "throat culture",
    ),
    _c(
        "eeg",
        "eeg; brain wave test; electroencephalogram; electroencephalography",
        PROC,
        "54550000",
        "electroencephalogra*",
    ),
    _c(
        "polypectomy",
        "polypectomy; polyp removal; removal of polyp",
        PROC,
        "274031008",
        "polypectomy",
    ),
    _c(
        "contraceptive implant procedure",
        "contraceptive implant; birth control implant; implant insertion; implant removal",
        PROC,
        "169553002 301807007 755621000000101",
        "subcutaneous contraceptive; contraceptive implant; etonogestrel",
    ),
    _c(
        "blood typing",
        "blood type; blood typing; blood group; abo typing; rh typing",
        PROC,
        "44608003",
        "blood typing; rh typing",
    ),
    _c(
        "rhogam",
        "rhogam; rho(d) immune globulin; anti-d; rh immune globulin",
        PROC,
        "51116004",
        "rhd passive",
    ),
    _c(
        "tuberculosis test",
        "tb test; ppd; tuberculin; tuberculosis test",
        PROC,
        "28163009",
        "tuberculosis",
    ),
    _c("chemotherapy procedure", "chemotherapy session; chemo session", PROC, "", "chemotherapy"),
)

_ALLERGIES = (
    _c(
        "peanut allergy",
        "peanut allergy; peanuts; peanut",
        ALLERGY + OBS,
        "91935009 6206-7",
        "peanut",
    ),
    _c(
        "tree nut allergy",
        "nut allergy; tree nut allergy; tree nuts; nuts; walnut",
        ALLERGY + OBS,
        "91934008 6273-7",
        "nut",
    ),
    _c(
        "seafood allergy",
        "seafood allergy; seafood",
        ALLERGY + OBS,
        "300913006 417532002 6246-3 6082-2",
        "shellfish; fish; shrimp",
    ),
    _c(
        "shellfish allergy",
        "shellfish allergy; shellfish; shrimp; crustacean",
        ALLERGY + OBS,
        "300913006 6246-3",
        "shellfish; shrimp",
    ),
    _c("fish allergy", "fish allergy; fish; codfish", ALLERGY + OBS, "417532002 6082-2", "fish"),
    _c("egg allergy", "egg allergy; eggs; egg", ALLERGY + OBS, "91930004 6106-9", "egg"),
    _c(
        "milk allergy",
        "milk allergy; dairy allergy; dairy; milk; cow milk",
        ALLERGY + OBS,
        "425525006 7258-7",
        "dairy; milk",
    ),
    _c("wheat allergy", "wheat allergy; wheat; gluten", ALLERGY + OBS, "420174000 6276-0", "wheat"),
    _c("soy allergy", "soy allergy; soy; soybean", ALLERGY + OBS, "6248-9", "soy"),
    _c("latex allergy", "latex allergy; latex", ALLERGY + OBS, "300916003 6158-0", "latex"),
    _c(
        "bee venom allergy",
        "bee sting allergy; bee allergy; bee venom; bee stings; insect sting",
        ALLERGY + OBS,
        "424213003 6844-5",
        "bee",
    ),
    _c(
        "pollen allergy",
        "pollen allergy; pollen; hay fever allergy",
        ALLERGY,
        "419263009 418689008",
        "pollen",
    ),
    _c(
        "tree pollen allergy",
        "tree pollen; tree pollen allergy",
        ALLERGY + OBS,
        "419263009 6189-5",
        "tree pollen; oak",
    ),
    _c("grass pollen allergy", "grass pollen; grass allergy", ALLERGY, "418689008", "grass"),
    _c(
        "dust mite allergy",
        "dust mite allergy; dust mites; dust allergy; dust",
        ALLERGY + OBS,
        "232350006 6095-4",
        "dust mite",
    ),
    _c(
        "mold allergy",
        "mold allergy; mould allergy; mold; mould",
        ALLERGY + OBS,
        "419474003 6075-6",
        "mould; mold; cladosporium",
    ),
    _c(
        "animal dander allergy",
        "pet allergy; dander allergy; cat allergy; dog allergy; "
        "animal dander; cat dander; pet dander",
        ALLERGY + OBS,
        "232347008 6833-8",
        "dander",
    ),
    _c("ragweed allergy", "ragweed; ragweed allergy", OBS, "6085-5", "ragweed"),
    _c(
        "drug allergy",
        "drug allergy; medication allergy",
        ALLERGY,
        "416098002",
        "penicillin; sulfonamide; drug allergy",
    ),
    _c(
        "food allergy",
        "food allergy; food allergies",
        ALLERGY,
        "414285001",
        "peanut; nut; shellfish; fish; egg; dairy; milk; wheat; soy; food",
    ),
)

_ENCOUNTERS = (
    _c(
        "emergency visit",
        "er visit; emergency room; emergency; ed visit; emergency department; er; a&e",
        ENC,
        "50849002 183460006",
        "emergency",
    ),
    _c(
        "check-up",
        "check up; checkup; check-up; physical; annual physical; wellness visit; "
        "well visit; annual exam; routine visit; general examination; well child visit; "
        "well child; wellness exam",
        ENC,
        "185349003 162673000 410620009",
        "check up; check-up; general examination",
    ),
    _c(
        "hospital admission",
        "hospitalization; hospitalisation; inpatient; admission; hospital stay; admitted; "
        "hospitalized; hospitalised; inpatient stay",
        ENC,
        "183452005 32485007 305411003",
        "inpatient; hospital admission",
    ),
    _c(
        "prenatal visit",
        "prenatal visit; prenatal; antenatal visit; obstetric visit",
        ENC,
        "424619006 424441002",
        "prenatal",
    ),
    _c("postnatal visit", "postnatal visit; postpartum visit", ENC, "169762003", "postnatal"),
    _c("follow-up visit", "follow-up; follow up visit; followup", ENC, "390906007", "follow-up"),
    _c("urgent care visit", "urgent care; walk-in", ENC, "702927004", "urgent care"),
    _c("symptom visit", "sick visit; visit for symptoms", ENC, "185345009", "symptom"),
    _c(
        "outpatient procedure visit",
        "outpatient procedure",
        ENC,
        "371883000",
        "outpatient procedure",
    ),
    _c(
        "office visit",
        "office visit; clinic visit; doctor visit",
        ENC,
        "185347001 316744009 308335008",
        "office visit; encounter for problem",
    ),
)

_CAREPLANS = (
    _c(
        "diabetes care plan",
        "diabetes plan; diabetes care plan; diabetes management; diabetes self management",
        PLAN,
        "698360004",
        "diabetes",
    ),
    _c(
        "respiratory therapy",
        "respiratory therapy; breathing therapy",
        PLAN,
        "53950000",
        "respiratory",
    ),
    _c(
        "fracture care", "fracture care; broken bone care; cast care", PLAN, "385691007", "fracture"
    ),
    _c("wound care", "wound care", PLAN, "225358003", "wound"),
    _c(
        "antenatal care",
        "antenatal care; prenatal care; pregnancy care plan",
        PLAN,
        "134435003",
        "antenatal",
    ),
    _c(
        "asthma care plan",
        "asthma plan; asthma care plan; asthma management; asthma action plan",
        PLAN,
        "699728000",
        "asthma",
    ),
    _c(
        "hyperlipidemia care plan",
        "cholesterol plan; hyperlipidemia plan; lipid management",
        PLAN,
        "736285004",
        "hyperlipidemia",
    ),
    _c("copd care plan", "copd plan; copd management", PLAN, "412776001", "chronic obstructive"),
    _c("self care", "self care; self-care plan", PLAN, "326051000000105", "self care"),
    _c(
        "musculoskeletal care",
        "musculoskeletal care; joint care",
        PLAN,
        "872781000000100",
        "musculoskeletal",
    ),
    _c(
        "head injury rehabilitation",
        "head injury rehab; head injury rehabilitation",
        PLAN,
        "47387005",
        "head injury",
    ),
    _c(
        "dementia management",
        "dementia plan; dementia management; dementia care",
        PLAN,
        "386257007",
        "dementia; demential*",
    ),
    _c(
        "cancer care plan",
        "cancer plan; cancer care plan; oncology plan",
        PLAN,
        "395082007",
        "cancer",
    ),
    _c(
        "urinary tract infection care",
        "uti care; uti plan",
        PLAN,
        "869761000000107",
        "urinary tract",
    ),
    _c(
        "allergy monitoring",
        "allergy plan; allergy monitoring; allergy care",
        PLAN,
        "170836005",
        "allergic; allergy",
    ),
    _c("behavior management", "behavior management; adhd plan", PLAN, "386522008", "behavio*"),
    _c(
        "surgery care",
        "surgery care; post-operative care; surgical care; post-op care; postoperative care",
        PLAN,
        "781831000000109",
        "surgery",
    ),
    _c("skin condition care", "skin care plan; skin condition care", PLAN, "711282006", "skin"),
)

_IMAGING = (
    _c(
        "x-ray",
        "x-ray; xray; x ray; radiograph; radiography; plain film; films",
        IMAGING,
        "DX CR",
        "radiograph; x-ray; xray",
    ),
    _c(
        "chest x-ray",
        "chest x-ray; chest xray; cxr; chest radiograph; chest film",
        IMAGING,
        "51185008 43799004 399208008",
        "chest; thorax; thoracic",
    ),
    _c(
        "ct scan",
        "ct; ct scan; cat scan; computed tomography",
        IMAGING,
        "CT",
        "computed tomography",
    ),
    _c("mri", "mri; mri scan; magnetic resonance", IMAGING, "MR", "magnetic resonance"),
    _c("imaging", "imaging; images; imaging study; scans; radiology", ("ImagingStudy", "Media")),
)

#: Every concept, in a stable order (earlier entries win ties).
LEXICON: tuple[Concept, ...] = (
    _VITALS
    + _LABS
    + _CONDITIONS
    + _MEDICATIONS
    + _IMMUNIZATIONS
    + _PROCEDURES
    + _ALLERGIES
    + _ENCOUNTERS
    + _CAREPLANS
    + _IMAGING
)
