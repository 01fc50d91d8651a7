"""Every write to a token goes through these functions.

Lock order, everywhere: the agent row (`select_for_update()`) first, then its
tokens. Locking only token rows is not enough on PostgreSQL READ COMMITTED:
two issuers that both see "no active token" would both insert, and the loser
would fail on the unique index. On SQLite the site's IMMEDIATE transactions
serialise writers instead. Secrets are generated and hashed before the
transaction opens, so that the lock is held only for the writes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import Agent
from agents.services import agent_archive
from api.constraints import is_unique_violation
from api.error_codes import ErrorCode
from tokens import crypto, signals
from tokens.errors import AgentGone, OperatorTokenForOthersForbidden, TokenAlreadyActive
from tokens.pepper import record_pepper
from tokens.models import (
    ADD_FOR_OTHERS_PERMISSION,
    REVOKE_REASON_MAX_LENGTH,
    AgentToken,
    BaseToken,
    OperatorToken,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

# A new lookup prefix collides with ~1 in 10**14 chance; retry that many times.
PREFIX_ATTEMPTS = 3
ROTATED_REASON = "rotated"


@dataclass(frozen=True)
class IssuedToken:
    """A new agent token and its plaintext secret, which is shown once."""

    token: AgentToken
    secret: str = field(repr=False)
    replaced: AgentToken | None = None  # the token a rotation revoked, if any


@dataclass(frozen=True)
class ArchivedAgent:
    """What archiving an agent changed: whether it was archived now, and the tokens revoked."""

    archived: bool
    revoked: list[AgentToken]


@dataclass(frozen=True)
class IssuedOperatorToken:
    """A new operator token and its plaintext secret, which is shown once."""

    token: OperatorToken
    secret: str = field(repr=False)


def _agent_expires_at(now: datetime) -> datetime | None:
    ttl = settings.TOKENS_AGENT_TOKEN_TTL_SECONDS
    return now + timedelta(seconds=ttl) if ttl > 0 else None


def _lock_agent(agent: Agent) -> Agent:
    """Lock `agent`'s row until the transaction ends; the first lock of every token write."""
    try:
        return Agent.objects.select_for_update().only("pk").get(pk=agent.pk)
    except Agent.DoesNotExist:
        raise AgentGone() from None


def _is_active_token_violation(exc: IntegrityError) -> bool:
    return is_unique_violation(
        exc, constraint="uniq_agent_active_token", table="tokens_agenttoken",
        columns=["active_agent"],
    )


def _is_prefix_violation(exc: IntegrityError, model: type[BaseToken]) -> bool:
    table = model._meta.db_table
    return is_unique_violation(
        exc, constraint=f"uniq_{model._meta.model_name}_prefix", table=table, columns=["prefix"]
    )


def _insert_agent_token(*, agent: Agent, new: crypto.NewSecret, actor: User | None,
                        now: datetime) -> tuple[AgentToken, str]:
    """Insert a token for the locked `agent`; return it with its secret.

    A duplicate active token becomes TokenAlreadyActive. The agent lock makes
    that impossible between our own services; the unique index is what holds
    for every other writer.
    """
    for attempt in range(PREFIX_ATTEMPTS):
        token = AgentToken(
            agent=agent, prefix=new.prefix, digest=new.digest, created_at=now,
            created_by=actor, expires_at=_agent_expires_at(now),
        )
        try:
            with transaction.atomic():
                token.save(force_insert=True)
                record_pepper()
        except IntegrityError as exc:
            if _is_active_token_violation(exc):
                signals.send(signals.ISSUE_CONFLICT)
                raise TokenAlreadyActive() from None
            if _is_prefix_violation(exc, AgentToken) and attempt + 1 < PREFIX_ATTEMPTS:
                new = crypto.generate(crypto.Kind.AGENT)
                continue
            raise
        return token, new.secret
    raise AssertionError("unreachable")


def _has_active_token(agent: Agent) -> bool:
    return AgentToken.objects.active().filter(agent=agent).exists()


def token_issue(*, agent: Agent, actor: User | None = None) -> IssuedToken:
    """Issue `agent`'s token; raise TokenAlreadyActive (409) if it has an active one."""
    new = crypto.generate(crypto.Kind.AGENT)
    with transaction.atomic():
        locked = _lock_agent(agent)
        if _has_active_token(locked):
            signals.send(signals.ISSUE_CONFLICT)
            raise TokenAlreadyActive()
        token, secret = _insert_agent_token(
            agent=agent, new=new, actor=actor, now=timezone.now()
        )
        signals.send(signals.ISSUED)
    logger.info("agent token %s issued for agent %s", token.prefix, agent.name)
    return IssuedToken(token=token, secret=secret)


def _revoke_active(*, agent: Agent, actor: User | None, reason: str, now: datetime,
                   only: list[int] | None = None) -> list[AgentToken]:
    """Revoke the locked `agent`'s active token (of `only`, if given); return what was revoked.

    Read, then updated by primary key, so that the callers learn which token
    they revoked (the admin logs it). The agent's lock keeps the two in step
    (READ COMMITTED: the read after the lock sees the latest commit); the
    update still says "while active" (it re-reads the row it writes on every
    engine), so a token revoked already is never revoked again, and a count
    that differs rolls everything back rather than report a false revoke.
    """
    tokens = AgentToken.objects.active().filter(agent=agent)
    if only is not None:
        tokens = tokens.filter(pk__in=only)
    revoked = list(tokens)
    if revoked:
        updated = AgentToken.objects.active().filter(pk__in=[token.pk for token in revoked]) \
            .update(revoked_at=now, revoked_by=actor, revoke_reason=reason)
        if updated != len(revoked):  # not under the agent's lock and READ COMMITTED
            raise RuntimeError(f"revoked {updated} of {len(revoked)} locked active tokens")
        if reason != ROTATED_REASON:  # a rotation counts as rotated
            signals.send(signals.REVOKED, len(revoked))
    for token in revoked:
        token.revoked_at, token.revoked_by, token.revoke_reason = now, actor, reason
    return revoked


def _check_reason(reason: str) -> None:
    if len(reason) > REVOKE_REASON_MAX_LENGTH:
        raise ValidationError(
            {"reason": ValidationError(
                f"Ensure this field has no more than {REVOKE_REASON_MAX_LENGTH} characters.",
                code=ErrorCode.MAX_LENGTH)}
        )


def token_rotate(*, agent: Agent, actor: User | None = None) -> IssuedToken:
    """Revoke `agent`'s active token, if any, and issue a new one, in one transaction."""
    new = crypto.generate(crypto.Kind.AGENT)
    with transaction.atomic():
        locked = _lock_agent(agent)
        now = timezone.now()
        replaced = _revoke_active(agent=locked, actor=actor, reason=ROTATED_REASON, now=now)
        token, secret = _insert_agent_token(agent=agent, new=new, actor=actor, now=now)
        signals.send(signals.ROTATED)
    logger.info("agent token of agent %s rotated to %s", agent.name, token.prefix)
    return IssuedToken(token=token, secret=secret, replaced=next(iter(replaced), None))


def token_revoke(*, agent: Agent, actor: User | None = None, reason: str = ""
                 ) -> list[AgentToken]:
    """Revoke `agent`'s active token; return what was revoked (none or one). Idempotent."""
    _check_reason(reason)
    with transaction.atomic():
        locked = _lock_agent(agent)
        revoked = _revoke_active(agent=locked, actor=actor, reason=reason, now=timezone.now())
    if revoked:
        logger.info("agent token of agent %s revoked", agent.name)
    return revoked


def agent_archive_with_token(*, agent: Agent, revoke_token: bool, actor: User | None = None
                             ) -> ArchivedAgent:
    """Archive `agent`, and revoke its active token if `revoke_token`; say what changed.

    Archiving alone revokes nothing: an archived agent's token keeps working
    until it is revoked, which is the caller's explicit choice. Whether the
    agent was archived now is decided on its locked row, so of two concurrent
    calls only one reports it.
    """
    with transaction.atomic():
        locked = _lock_agent(agent)
        agent.refresh_from_db(fields=["status"])
        archived = agent.status != Agent.Status.ARCHIVED
        revoked: list[AgentToken] = []
        if revoke_token:
            revoked = _revoke_active(agent=locked, actor=actor, reason="agent archived",
                                     now=timezone.now())
        agent_archive(agent=agent)
    logger.info("agent %s archived (%s token revoked)", agent.name, len(revoked))
    return ArchivedAgent(archived=archived, revoked=revoked)


def tokens_revoke_selected(*, tokens: list[AgentToken], actor: User | None = None,
                           reason: str = "") -> list[AgentToken]:
    """Revoke exactly `tokens` where still active; return those it revoked.

    For the admin's "revoke selected" action: the agents are locked in primary
    key order (so that two such calls cannot deadlock), and a token rotated
    away meanwhile is not mistaken for its successor.
    """
    _check_reason(reason)
    by_agent: dict[int, list[int]] = {}
    for token in tokens:
        by_agent.setdefault(token.agent_id, []).append(token.pk)
    revoked: list[AgentToken] = []
    with transaction.atomic():
        now = timezone.now()
        for agent_id in sorted(by_agent):
            try:
                locked = Agent.objects.select_for_update().only("pk").get(pk=agent_id)
            except Agent.DoesNotExist:
                continue
            revoked += _revoke_active(agent=locked, actor=actor, reason=reason, now=now,
                                      only=by_agent[agent_id])
    return revoked


def tokens_rotate_agents(*, agents: list[Agent], actor: User | None = None) -> list[IssuedToken]:
    """Rotate the token of each of `agents` in one transaction, locking in key order."""
    unique = sorted({agent.pk: agent for agent in agents}.values(), key=lambda a: a.pk)
    news = [crypto.generate(crypto.Kind.AGENT) for _ in unique]
    issued = []
    with transaction.atomic():
        now = timezone.now()
        for agent, new in zip(unique, news):
            locked = _lock_agent(agent)
            replaced = _revoke_active(agent=locked, actor=actor, reason=ROTATED_REASON,
                                      now=now)
            token, secret = _insert_agent_token(agent=agent, new=new, actor=actor, now=now)
            issued.append(IssuedToken(token=token, secret=secret,
                                      replaced=next(iter(replaced), None)))
        if issued:
            signals.send(signals.ROTATED, len(issued))
    return issued


# --- operator tokens -----------------------------------------------------------

def may_add_operator_token_for(*, actor: User, user: User) -> bool:
    """Return whether `actor` may make an operator token acting as `user`.

    Anyone who may add operator tokens may add one for themselves; a token
    for someone else lets its holder act as that user, so only a superuser
    or a holder of `tokens.add_operatortoken_for_others` may make one.
    """
    return actor.pk == user.pk or may_add_operator_tokens_for_others(actor=actor)


def may_add_operator_tokens_for_others(*, actor: User) -> bool:
    """Return whether `actor` may make operator tokens for users other than themselves."""
    return actor.is_active and (actor.is_superuser or actor.has_perm(ADD_FOR_OTHERS_PERMISSION))


EXPIRES_AT_PAST_MESSAGE = "The expiry must be in the future: this token would never work."


def check_expires_at(expires_at: datetime | None) -> None:
    """Raise ValidationError (`expires_at_past`) unless `expires_at` is unset or in the future."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError(EXPIRES_AT_PAST_MESSAGE, code=ErrorCode.EXPIRES_AT_PAST)


def operator_token_create(*, user: User, name: str, expires_at: datetime | None = None,
                          actor: User | None = None) -> IssuedOperatorToken:
    """Create a personal API token for `user`; the secret is returned once.

    `actor` is who asks (the admin's user); a token for another user needs
    `may_add_operator_token_for`, else OperatorTokenForOthersForbidden (403).
    None is the shell (management commands, which name the user explicitly).
    """
    if actor is not None and not may_add_operator_token_for(actor=actor, user=user):
        raise OperatorTokenForOthersForbidden()
    try:
        check_expires_at(expires_at)
    except ValidationError as exc:
        raise ValidationError({"expires_at": exc}) from None
    new = crypto.generate(crypto.Kind.OPERATOR)
    for attempt in range(PREFIX_ATTEMPTS):
        token = OperatorToken(user=user, name=name, prefix=new.prefix, digest=new.digest,
                              expires_at=expires_at)
        token.full_clean(exclude=["user"], validate_unique=False, validate_constraints=False)
        try:
            with transaction.atomic():
                token.save(force_insert=True)
                record_pepper()
        except IntegrityError as exc:
            if _is_prefix_violation(exc, OperatorToken) and attempt + 1 < PREFIX_ATTEMPTS:
                new = crypto.generate(crypto.Kind.OPERATOR)
                continue
            raise
        logger.info("operator token %s created for user %s", token.prefix, user.get_username())
        return IssuedOperatorToken(token=token, secret=new.secret)
    raise AssertionError("unreachable")


def operator_token_revoke(*, token: OperatorToken) -> bool:
    """Revoke `token`; return whether it was active. Idempotent."""
    count = OperatorToken.objects.active().filter(pk=token.pk).update(revoked_at=timezone.now())
    if count:
        logger.info("operator token %s revoked", token.prefix)
    return bool(count)
