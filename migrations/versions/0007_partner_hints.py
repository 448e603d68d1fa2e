"""Partner hints: the running campaign's id seen last, kept past a session so the first overview after
signing in asks its analytics in the page's one round.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 03:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    # A database from before migrations is made with create_all (webapp/store/schema.py): it may have it.
    if 'partner_hints' in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        'partner_hints',
        sa.Column('partner_id', sa.String(length=64), nullable=False),
        sa.Column('environment', sa.String(length=16), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('value', sa.String(length=255), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('partner_id', 'environment', 'name'),
    )


def downgrade():
    op.drop_table('partner_hints')
