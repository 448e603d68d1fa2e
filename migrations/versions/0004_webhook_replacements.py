"""Webhook endpoint replacements: the saved state of replacing an endpoint (new URL, event types or secret).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    # A database from before migrations is brought up with create_all, stamped 0001 and upgraded from there
    # (webapp/store/schema.py): when it already has this table, there is nothing to create.
    if sa.inspect(op.get_bind()).has_table('webhook_replacements'):
        return
    op.create_table('webhook_replacements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('environment', sa.String(length=16), nullable=False),
    sa.Column('old_webhook_id', sa.String(length=64), nullable=False),
    sa.Column('old_url', sa.String(length=2048), nullable=False),
    sa.Column('old_event_types', sa.Text(), nullable=False),
    sa.Column('old_receive_all', sa.Boolean(), nullable=False),
    sa.Column('new_url', sa.String(length=2048), nullable=False),
    sa.Column('new_description', sa.String(length=200), nullable=True),
    sa.Column('new_event_types', sa.Text(), nullable=False),
    sa.Column('new_receive_all', sa.Boolean(), nullable=False),
    sa.Column('to_portal', sa.Boolean(), nullable=False),
    sa.Column('shares_receiver', sa.Boolean(), nullable=False),
    sa.Column('keep_secret', sa.Boolean(), nullable=False),
    sa.Column('receiver_token', sa.String(length=64), nullable=True),
    sa.Column('known_webhook_ids', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('new_webhook_id', sa.String(length=64), nullable=True),
    sa.Column('new_secret_encrypted', sa.Text(), nullable=True),
    sa.Column('reveal_token', sa.String(length=64), nullable=True),
    sa.Column('test_delivery_id', sa.String(length=64), nullable=True),
    sa.Column('test_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_by', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_replacements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_replacements_partner_id'), ['partner_id'], unique=False)


def downgrade():
    with op.batch_alter_table('webhook_replacements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_replacements_partner_id'))

    op.drop_table('webhook_replacements')
