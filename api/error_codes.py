"""Every `code` the API answers with: one catalogue, documented in docs/api.md ("Errors").

A problem's `code` (and a field error's, in `errors`) is a stable contract
for clients; each one is a member here, and every error class, validator and
authentication failure takes its code from this enum, so the API's codes are
one grep away. `tests/api_tests/test_error_codes.py` checks that each member
is documented in docs/api.md's error tables and that each documented code is a
member, and that no product module writes a code as a bare string.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    # Request and validation (DRF's own codes, which this API keeps).
    INVALID = "invalid"
    PARSE_ERROR = "parse_error"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    NOT_FOUND = "not_found"
    BAD_REQUEST = "bad_request"
    REQUEST_TOO_LARGE = "request_too_large"
    INVALID_CONTENT_LENGTH = "invalid_content_length"
    THROTTLED = "throttled"

    # Field codes (in `errors`) this project raises itself; DRF adds its own
    # (`required`, `null`, `blank`, `max_length`, ...).
    INVALID_CHOICE = "invalid_choice"
    INVALID_DISPLAY_NAME = "invalid_display_name"
    INVALID_COLOR = "invalid_color"
    EXPIRES_AT_PAST = "expires_at_past"
    READ_ONLY = "read_only"
    BLANK = "blank"
    MAX_LENGTH = "max_length"

    # Authentication and permissions.
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    PERMISSION_DENIED = "permission_denied"
    TOKEN_MISSING = "token_missing"
    TOKEN_PREFIX_INVALID = "token_prefix_invalid"
    TOKEN_MALFORMED = "token_malformed"
    TOKEN_CHECKSUM_INVALID = "token_checksum_invalid"
    TOKEN_UNKNOWN = "token_unknown"
    TOKEN_REVOKED = "token_revoked"
    TOKEN_EXPIRED = "token_expired"
    USER_INACTIVE = "user_inactive"
    AUTHENTICATION_LOCKED_OUT = "authentication_locked_out"
    AGENT_TOKEN_REQUIRED = "agent_token_required"
    AGENT_TOKEN_FORBIDDEN = "agent_token_forbidden"
    OPERATOR_TOKEN_FOR_OTHERS_FORBIDDEN = "operator_token_for_others_forbidden"

    # Agents, tokens, deploys.
    AGENT_NAME_EXHAUSTED = "agent_name_exhausted"
    TOKEN_NOT_FOUND = "token_not_found"
    TOKEN_ALREADY_ACTIVE = "token_already_active"
    DEPLOY_NOT_FOUND = "deploy_not_found"
    DEPLOY_IN_PROGRESS = "deploy_in_progress"
    DEPLOY_NOT_RETRYABLE = "deploy_not_retryable"
    AGENT_ARCHIVED = "agent_archived"
    AGENT_NOT_DEPLOYABLE = "agent_not_deployable"

    # Idempotency.
    IDEMPOTENCY_KEY_INVALID = "idempotency_key_invalid"
    IDEMPOTENCY_KEY_REQUIRED = "idempotency_key_required"
    IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"

    # The server's side.
    CONFLICT = "conflict"
    SERVER_ERROR = "server_error"
    DATABASE_UNAVAILABLE = "database_unavailable"
