"""The assessment service's read-model schema (its event store's schema is `assessment`)."""

SCHEMA = "assessment_view"
