"""Realistic form submissions for the PMO processes."""

from __future__ import annotations

import copy

CHARTER = {
    "project_name": "Customer portal relaunch",
    "objectives": ["Cut call-centre volume by 20 % within a year", "Self-service for 80 % of address changes"],
    "scope_in": "New customer portal, single sign-on, address and payment self-service, migration of accounts.",
    "scope_out": "Mobile apps; billing engine changes.",
    "business_case": {"benefits": "Call-centre savings of 400k a year, higher satisfaction.",
                      "estimated_costs": "Build 600k, run 80k a year.", "payback_months": 20},
    "budget_estimate": 650000,
    "start_date": "2026-03-02",
    "target_end_date": "2026-12-18",
    "key_risks": [{"description": "Identity provider integration is late", "probability": 3, "impact": 4,
                   "mitigation": "Early spike with the vendor"}],
    "stakeholders": [{"name": "Head of customer service", "role": "Business owner", "interest": "high"}],
    "success_criteria": ["20 % fewer calls about account changes", "Portal availability 99.5 %"],
}

REGISTER = {"project_code": "CRM-0042", "portfolio_category": "strategic", "strategic_fit": 5, "value_score": 4,
            "risk_score": 3}

BASELINE = {
    "milestones": [
        {"name": "Design approved", "due_date": "2026-05-15", "deliverables": "Solution design, UX prototypes",
         "gate_required": True},
        {"name": "Portal live", "due_date": "2026-11-30", "deliverables": "Production release, migrated accounts",
         "gate_required": True},
    ],
    "budget_by_category": {"labour": 420000, "vendors": 120000, "hardware_software": 40000, "contingency": 60000},
    "resource_requests": [
        {"role": "Solution architect", "fte": 0.5, "start_date": "2026-03-02", "end_date": "2026-06-30"},
        {"role": "Frontend developer", "fte": 2, "start_date": "2026-04-01", "end_date": "2026-11-30",
         "skills": "React, accessibility"},
    ],
    "risk_register": [
        {"title": "Identity provider integration is late", "probability": 3, "impact": 4, "owner": "maria",
         "response": "mitigate", "trigger": "No test tenant by April"},
        {"title": "Data migration quality", "probability": 4, "impact": 3, "owner": "maria", "response": "mitigate"},
    ],
    "communication_plan": [{"audience": "Steering committee", "content": "Status and decisions",
                            "frequency": "monthly", "channel": "Meeting"}],
    "quality_plan": {"standards": "WCAG 2.1 AA, OWASP ASVS L2", "acceptance_criteria": "UAT sign-off by the business",
                     "reviews": "Design review, security review, UAT"},
}

CHECKLIST_OK = {"milestones_complete": True, "budget_reconciled": True, "risks_assessed": True,
                "resources_confirmed": True, "communication_plan_ok": True, "quality_plan_ok": True}

EVIDENCE_GOOD = {
    "deliverables": [{"name": "Solution design", "status": "complete"}, {"name": "UX prototypes", "status": "complete"}],
    "acceptance_criteria": [{"criterion": "Design reviewed by security", "met": True},
                            {"criterion": "Business sign-off of prototypes", "met": True}],
    "open_issues": [],
    "business_case_valid": True,
    "external_blocker": False,
    "evidence_summary": "All design deliverables complete and signed off.",
}

CHANGE = {
    "cr_title": "Add payment-plan self-service",
    "cr_description": "Customers can set up payment plans in the portal.",
    "cr_reason": "Collections team requests it; reduces calls about arrears.",
    "cost_impact": 8000,
    "schedule_impact_days": 3,
    "scope_impact": "One more self-service journey.",
    "risk_impact": "low",
}

STATUS_GREEN = {"period_end": "2026-04-10", "schedule_rag": "green", "budget_rag": "green", "scope_rag": "green",
                "resources_rag": "green", "risk_rag": "green", "top_risk_score": 12,
                "summary": "Design on track, prototypes tested with customers.", "top_issues": []}

LESSONS = {"lessons": [{
    "title": "Book the identity provider test tenant at initiation",
    "what_went_well": "Early spike found the SSO gaps.",
    "what_to_improve": "The test tenant arrived six weeks late.",
    "recommendation": "Order vendor test environments during initiation, not planning.",
    "category": "vendors", "tags": ["sso", "identity", "portal"]}]}

ADMIN_CLOSE = {"final_actual_cost": 655000, "final_end_date": "2026-12-15", "resources_released": True,
               "contracts_closed": True, "documents_archived": True, "archive_location": "dms://projects/CRM-0042"}


def d(value):
    return copy.deepcopy(value)


def assessment(cost: float, days: int, risk: str = "low") -> dict:
    return {"assessed_cost_impact": cost, "assessed_schedule_days": days, "assessed_risk_level": risk,
            "assessment_notes": "Impact checked against the baseline plan.", "pm_recommendation": "approve"}
