"""Alerts outside the portal: where each partner's alerts go, which went (one per condition, subject and day),
and which interval each scheduled run claimed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    # A database from before migrations is brought up with create_all, stamped 0001 and upgraded from there
    # (webapp/store/schema.py): when it already has these tables, there is nothing to create.
    if sa.inspect(op.get_bind()).has_table('alert_settings'):
        return
    op.create_table('alert_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('partner_name', sa.String(length=255), nullable=False),
    sa.Column('email_recipients', sa.Text(), nullable=False),
    sa.Column('chat_url_encrypted', sa.Text(), nullable=True),
    sa.Column('chat_url_hint', sa.String(length=255), nullable=True),
    sa.Column('failing_after', sa.Integer(), nullable=False),
    sa.Column('portal_url', sa.String(length=2048), nullable=True),
    sa.Column('known_keys', sa.Text(), nullable=True),
    sa.Column('email_status', sa.Text(), nullable=True),
    sa.Column('email_ok', sa.Boolean(), nullable=True),
    sa.Column('email_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('chat_status', sa.Text(), nullable=True),
    sa.Column('chat_ok', sa.Boolean(), nullable=True),
    sa.Column('chat_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_by', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('partner_id')
    )
    op.create_table('alerts_sent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.String(length=64), nullable=False),
    sa.Column('condition', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('environment', sa.String(length=16), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=2048), nullable=True),
    sa.Column('email_result', sa.Text(), nullable=True),
    sa.Column('chat_result', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('partner_id', 'condition', 'subject', 'day')
    )
    with op.batch_alter_table('alerts_sent', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_sent_partner_at', ['partner_id', 'sent_at'], unique=False)

    op.create_table('alert_runs',
    sa.Column('slot', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('runner', sa.String(length=255), nullable=False),
    sa.Column('sent', sa.Integer(), nullable=False),
    sa.Column('problems', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('slot')
    )


def downgrade():
    op.drop_table('alert_runs')
    with op.batch_alter_table('alerts_sent', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_sent_partner_at')
    op.drop_table('alerts_sent')
    op.drop_table('alert_settings')
