"""The audit log's keyset index (partner, time, id) in place of (partner, time), and one per action.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # Pages of the log are read by keyset, newest first on (time, id): the id in the index lets PostgreSQL
    # read a page straight from it (SQLite keeps the rowid in every index anyway). A database from before
    # migrations was made with create_all from the models (webapp/store/schema.py): it may have these already.
    present = {index['name'] for index in sa.inspect(op.get_bind()).get_indexes('audit_entries')}
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        if 'ix_audit_partner_at' in present:
            batch_op.drop_index('ix_audit_partner_at')
        if 'ix_audit_partner_at_id' not in present:
            batch_op.create_index('ix_audit_partner_at_id', ['partner_id', 'at', 'id'], unique=False)
        if 'ix_audit_partner_action_at' not in present:
            batch_op.create_index('ix_audit_partner_action_at', ['partner_id', 'action', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_partner_action_at')
        batch_op.drop_index('ix_audit_partner_at_id')
        batch_op.create_index('ix_audit_partner_at', ['partner_id', 'at'], unique=False)
