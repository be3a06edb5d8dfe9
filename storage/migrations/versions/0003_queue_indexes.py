"""The web app's queue and case pages: indexes, and a second reply per message for an action.

- exception_items: (status, opened_at, id), (status, reason), (status, agency), (case_id) for
  the queue page (open items by age, counted by reason, filtered) and a case's items;
- audit_log: (entity, entity_id) for an item's and a case's history;
- cases: (opened_at) for the cases page;
- outbox: ``exception_item_id`` (the queue item whose action sent the reply). The unique key
  on message_row_id becomes a partial one (only the automatic reply, exception_item_id NULL),
  and an action's reply is unique per item.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: names SQLite's unnamed UNIQUE(message_row_id) from 0001 so batch mode can drop it
_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
_AUTOMATIC = "exception_item_id IS NULL"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_index("ix_exception_items_status_opened_at", "exception_items", ["status", "opened_at", "id"])
    op.create_index("ix_exception_items_status_reason", "exception_items", ["status", "reason"])
    op.create_index("ix_exception_items_status_agency", "exception_items", ["status", "agency"])
    op.create_index("ix_exception_items_case_id", "exception_items", ["case_id"])
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"])
    op.create_index("ix_cases_opened_at", "cases", ["opened_at"])

    if _sqlite():
        with op.batch_alter_table("outbox", recreate="always", naming_convention=_SQLITE_NAMES) as batch:
            batch.drop_constraint("uq_outbox_message_row_id", type_="unique")
            batch.add_column(sa.Column("exception_item_id", sa.Integer(), nullable=True))
            batch.create_foreign_key("fk_outbox_exception_item_id", "exception_items", ["exception_item_id"], ["id"])
    else:
        op.drop_constraint("outbox_message_row_id_key", "outbox", type_="unique")
        op.add_column("outbox", sa.Column("exception_item_id", sa.Integer(), nullable=True))
        op.create_foreign_key("fk_outbox_exception_item_id", "outbox", "exception_items", ["exception_item_id"], ["id"])
    op.create_index(
        "uq_outbox_automatic_reply",
        "outbox",
        ["message_row_id"],
        unique=True,
        sqlite_where=sa.text(_AUTOMATIC),
        postgresql_where=sa.text(_AUTOMATIC),
    )
    op.create_index("uq_outbox_exception_item_id", "outbox", ["exception_item_id"], unique=True)


def downgrade() -> None:
    # an action's replies go: the table keeps one reply per message again
    op.execute("DELETE FROM outbox WHERE exception_item_id IS NOT NULL")
    op.drop_index("uq_outbox_exception_item_id", table_name="outbox")
    op.drop_index("uq_outbox_automatic_reply", table_name="outbox")
    if _sqlite():
        with op.batch_alter_table("outbox", recreate="always") as batch:
            batch.drop_constraint("fk_outbox_exception_item_id", type_="foreignkey")
            batch.drop_column("exception_item_id")
            batch.create_unique_constraint("uq_outbox_message_row_id", ["message_row_id"])
    else:
        op.drop_constraint("fk_outbox_exception_item_id", "outbox", type_="foreignkey")
        op.drop_column("outbox", "exception_item_id")
        op.create_unique_constraint("outbox_message_row_id_key", "outbox", ["message_row_id"])

    op.drop_index("ix_cases_opened_at", table_name="cases")
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    op.drop_index("ix_exception_items_case_id", table_name="exception_items")
    op.drop_index("ix_exception_items_status_agency", table_name="exception_items")
    op.drop_index("ix_exception_items_status_reason", table_name="exception_items")
    op.drop_index("ix_exception_items_status_opened_at", table_name="exception_items")
