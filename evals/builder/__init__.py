"""The QA benchmark builder: deterministic questions computed from raw Synthea bundles.

Ground truth is computed here from the raw bundle files with plain ``json``/``gzip``; this
package never imports ``tools/`` or ``agent/``.

Decisions a reader of the dataset should know:

- **As of.** Every question is asked as of a day; only resources dated on or before it count
  and ages are whole years on it (at death for the deceased). By default the day is, per
  patient, the day of that patient's last dated clinical record (death included);
  ``BuildOptions.as_of`` fixes one day for everyone. Statuses without dates (medication
  status, allergy and care plan status, "resolved" without an abatement date) describe the
  record's last day, so questions that rely on them are asked only when the as-of day is that
  day or later.
- **Evidence.** ``evidence_ids`` lists every resource that proves the answer (all the
  measurements behind a maximum, all the doses behind a count). An absence ("never
  prescribed a statin": no) is proven by the record as a whole and cites ``Patient/<id>``
  alone.
- **Ambiguity.** A concept is named in a question only if its display text means one code,
  and its code has one text, across the whole cohort. Not asked: "most recent" when the last
  day holds different values; measurements whose series lacks a number or a unit, or mixes
  units; "is it active?" for conditions that recurred or whose status contradicts their
  dates; changes smaller than twice the tolerance; values within rounding of a threshold;
  absences of a concept sharing an identifying word with anything in the record (no
  "Sinusitis: never" for a patient with viral sinusitis), or of a vaccine group the patient
  has any dose of.
- **Billing** (Claim, ExplanationOfBenefit) is never asked about.
"""

from evals.builder.build import (
    BuildOptions,
    BuildResult,
    build_dataset,
    build_items,
    load_records,
)
from evals.builder.errors import BuildError, BundleError
from evals.builder.templates import CATEGORIES, TEMPLATES, Template

__all__ = [
    "CATEGORIES",
    "TEMPLATES",
    "BuildError",
    "BuildOptions",
    "BuildResult",
    "BundleError",
    "Template",
    "build_dataset",
    "build_items",
    "load_records",
]
