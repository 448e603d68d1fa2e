"""Recovery batches remember which deliveries SIR Giving refused to queue, so the report tells them apart
from deliveries that were sent again and failed again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    # A database from before migrations is brought up with create_all and upgraded from 0001
    # (webapp/store/schema.py): when it already has the column, there is nothing to add.
    columns = {c['name'] for c in sa.inspect(op.get_bind()).get_columns('recovery_batches')}
    if 'refused_ids' in columns:
        return
    with op.batch_alter_table('recovery_batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refused_ids', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('recovery_batches', schema=None) as batch_op:
        batch_op.drop_column('refused_ids')
