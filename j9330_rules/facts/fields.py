"""The vocabulary of facts: every field a line or date fact can carry.

Besides these, facts carry the payer's parameters and one ``in_<name>``
field per code set. Specs are checked against this vocabulary when a payer's
policy is merged, so a misspelled field in a rule fails at load instead of
silently never matching; a test keeps it in step with facts/builder.py.
"""

SHARED_FIELDS = frozenset(
    {
        "id",
        "sid",
        "kind",
        "line",
        "dos",
        "eff",
        "form",
        "pos",
        "tob",
        "has_prior_auth",
        "is_340b",
        "expected_340b",
    }
)
LINE_FIELDS = SHARED_FIELDS | {
    "revenue_code",
    "units",
    "units_valid",
    "jw",
    "jz",
    "billed_340b",
    "dose_given",
    "dose_matches",
    "ndc_present",
    "ndc_valid",
    "ndc_temsirolimus",
    "ndc_unconfirmed",
    "ndc_units_covered",
    "ndc_quantity_covers",
    "dx_pointed",
    "doc_given",
    "doc_has_lot",
    "doc_has_expiration",
    "doc_has_route",
    "doc_route_iv",
    "doc_expired",
}
DATE_FIELDS = SHARED_FIELDS | {
    "kit_mg",
    "administered_units",
    "discarded_units",
    "total_units",
    "kits_opened",
    "administered_mg",
    "units_valid",
    "fills_whole_kits",
    "discards_under_one_kit",
    "administered_whole_kits",
    "has_jw_line",
    "has_jz",
    "jwjz_conflict",
    "jwjz_missing",
    "jw_without_admin",
    "mue_loaded",
    "mue_setting",
    "mue_value",
    "mue_mai",
    "units_over_mue",
    "asp_loaded",
    "fee_schedule_loaded",
    "patient_under_18",
    "days_to_other_dose",
    "dose_within_interval",
    "units_in_window",
    "units_over_limit",
}
FIELDS = {"line": LINE_FIELDS, "date": DATE_FIELDS}
#: Which code-set fields reach which fact kind (see CodeMatcher and FactBuilder).
CODE_SET_FIELDS = {
    "line": {"diagnosis", "modifier", "procedure", "place_of_service", "type_of_bill"},
    "date": {"diagnosis", "procedure", "place_of_service", "type_of_bill"},
}
#: Fields that exist only when a payer's spec provides them (absent, rules on them cannot fire).
PAYER_FIELDS = frozenset({"in_covered_diagnoses"})
