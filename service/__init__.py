"""Onshi: online eligibility verification for Japanese health insurance."""
