"""Indexes for the filing's own lookups, which otherwise scan a growing table per message.

- documents: (case_id, agency, form, version_no) for the current version of an agency's form
  in a case (each filing asks it; without it every earlier version of the case is read);
- outbox: (to_addr, created_at) for the per-sender reply limit (replies to an address in the
  last hour); it takes over from the single-column index on to_addr.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_documents_case_agency_form", "documents", ["case_id", "agency", "form", "version_no"])
    op.create_index("ix_outbox_to_addr_created_at", "outbox", ["to_addr", "created_at"])
    op.drop_index("ix_outbox_to_addr", table_name="outbox")


def downgrade() -> None:
    op.create_index("ix_outbox_to_addr", "outbox", ["to_addr"])
    op.drop_index("ix_outbox_to_addr_created_at", table_name="outbox")
    op.drop_index("ix_documents_case_agency_form", table_name="documents")
