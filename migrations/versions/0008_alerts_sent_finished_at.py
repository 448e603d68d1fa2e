"""Alerts sent: when every channel was tried (`finished_at`), so a claim whose run died mid-send can be taken
over by the next run. Rows from before are marked finished at their claim: nothing old is sent again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 07:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    # A database from before migrations is made with create_all (webapp/store/schema.py): it may have it.
    columns = {c['name'] for c in sa.inspect(op.get_bind()).get_columns('alerts_sent')}
    if 'finished_at' in columns:
        return
    with op.batch_alter_table('alerts_sent') as batch:
        batch.add_column(sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE alerts_sent SET finished_at = sent_at")


def downgrade():
    with op.batch_alter_table('alerts_sent') as batch:
        batch.drop_column('finished_at')
