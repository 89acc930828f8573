"""The first documentation template and policies, installed by migration 0002.

Each section says which heading of each framework it answers: SR 26-2 (which replaced SR 11-7
in April 2026 and keeps its structure of development, validation and governance), the PRA's
SS1/23 principles, and the EU AI Act's Annex IV technical documentation. Administrators edit the
template afterwards on /documentation/template/; this module is only where it starts.
"""

from __future__ import annotations

SR = "SR 26-2 / SR 11-7"
PRA = "PRA SS1/23"
AI_ACT = "EU AI Act Annex IV"
FRAMEWORKS = (SR, PRA, AI_ACT)


def _section(key: str, title: str, kind: str, help: str, sr: str, pra: str, ai: str) -> dict:
    return {
        "key": key,
        "title": title,
        "kind": kind,
        "help": help,
        "mapping": {SR: sr, PRA: pra, AI_ACT: ai},
    }


NARRATIVE = "narrative"

SECTIONS = [
    _section(
        "identity",
        "Identity",
        "identity",
        "",
        "Model inventory",
        "Principle 1: model identification and risk classification",
        "1(a): intended purpose, provider, version",
    ),
    _section(
        "intended_use",
        "Intended use and users",
        NARRATIVE,
        "What decisions the model supports, for whom, and who reads its output.",
        "Model development: purpose and intended use",
        "Principle 3: model development, implementation and use",
        "1(a) intended purpose; 1(h) instructions for use",
    ),
    _section(
        "out_of_scope",
        "Out-of-scope uses",
        NARRATIVE,
        "Uses the model was not built or validated for, and must not be put to.",
        "Model use: limits on use",
        "Principle 3: model development, implementation and use",
        "3: foreseeable unintended outcomes and sources of risk",
    ),
    _section(
        "training_data",
        "Training data",
        NARRATIVE,
        "Sources, period covered, preparation, exclusions, known quality problems.",
        "Model development: data quality and relevance",
        "Principle 3: model development, implementation and use",
        "2(d): data requirements, datasheets, data preparation",
    ),
    _section(
        "methodology",
        "Methodology and alternatives considered",
        NARRATIVE,
        "The method, why it was chosen, and what else was tried.",
        "Model development: theory, design and alternatives",
        "Principle 3: model development, implementation and use",
        "2(a)-(b): development methods, design choices and assumptions",
    ),
    _section(
        "assumptions",
        "Assumptions and limitations",
        NARRATIVE,
        "What must hold for the model to be right, and where it is known to be weak.",
        "Model development: assumptions and limitations",
        "Principle 3: model development, implementation and use",
        "3: capabilities and limitations in performance",
    ),
    _section(
        "human_oversight",
        "Human oversight",
        NARRATIVE,
        "Who can override the model, when, and how overrides are recorded.",
        "Model use: human judgement and overrides",
        "Principle 5: model risk mitigants",
        "2(e): human oversight measures (Art. 14)",
    ),
    _section(
        "artifact",
        "Artifact and input signature",
        "artifact",
        "",
        "Implementation: controls over the production model",
        "Principle 3: model development, implementation and use",
        "2(b)-(c): design specifications, system architecture",
    ),
    _section(
        "validation",
        "Validation results and policy checks",
        "validation",
        "",
        "Validation: outcomes analysis",
        "Principle 4: independent model validation",
        "2(g): validation and testing procedures, metrics; 4: performance metrics",
    ),
    _section(
        "fairness",
        "Fairness",
        "fairness",
        "",
        "Validation: evaluation of conceptual soundness",
        "Principle 4: independent model validation",
        "2(g): discriminatory impacts; 3: accuracy for groups of persons",
    ),
    _section(
        "champion",
        "Comparison with the champion",
        "champion",
        "",
        "Validation: benchmarking",
        "Principle 4: independent model validation",
        "4: appropriateness of the performance metrics",
    ),
    _section(
        "exceptions",
        "Policy exceptions",
        "exceptions",
        "",
        "Governance: exceptions to policy",
        "Principle 2: governance",
        "5: risk management system (Art. 9)",
    ),
    _section(
        "findings",
        "Validation findings",
        "findings",
        "",
        "Validation: findings and their remediation",
        "Principle 4: independent model validation",
        "5: risk management system (Art. 9)",
    ),
    _section(
        "sign_offs",
        "Review and sign-offs",
        "sign_offs",
        "",
        "Governance: approval of models",
        "Principle 2: governance",
        "2(g): test reports signed by the responsible persons",
    ),
    _section(
        "deployments",
        "Deployment history",
        "deployments",
        "",
        "Implementation and use",
        "Principle 3: model development, implementation and use",
        "6: relevant changes through the lifecycle",
    ),
    _section(
        "monitoring",
        "Monitoring policy and current state",
        "monitoring",
        "",
        "Validation: ongoing monitoring",
        "Principle 4: independent model validation",
        "9: post-market monitoring (Art. 72)",
    ),
    _section(
        "changes",
        "Change log",
        "changes",
        "",
        "Governance: change control",
        "Principle 2: governance",
        "6: relevant changes through the lifecycle",
    ),
]

# The narrative sections each risk tier must have written before review.
REQUIRED = {
    "high": [
        "intended_use",
        "out_of_scope",
        "training_data",
        "methodology",
        "assumptions",
        "human_oversight",
    ],
    "medium": ["intended_use", "training_data", "methodology", "assumptions"],
    "low": ["intended_use"],
}
