"""Mailbox adapters for the core.ports.Mailbox port.

    ImapMailbox      the partnership's secure mailbox over IMAP (TLS, password or XOAUTH2, IDLE)
    MaildirMailbox   the embedded default inbox, var/mail under the data directory
    FakeMailbox      in memory, for unit tests

``mailboxes_from_settings`` builds those the settings ask for (the composition root calls it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from core.ports import Mailbox
from intake.mailboxes.fake import FakeMailbox
from intake.mailboxes.imap import ImapMailbox
from intake.mailboxes.maildir import MaildirMailbox
from intake.oauth import token_provider_for
from intake.settings import ImapSettings, Settings

__all__ = ["FakeMailbox", "ImapMailbox", "MaildirMailbox", "imap_mailbox", "mailboxes_from_settings"]


def mailboxes_from_settings(settings: Settings, environ: Mapping[str, str] | None = None) -> tuple[Mailbox, ...]:
    """One ImapMailbox per [imap] / [[imap]] section; none configured: the Maildir inbox in
    <data_dir>/mail."""
    if not settings.mailboxes:
        return (MaildirMailbox(Path(settings.service.data_dir) / "mail"),)
    env = os.environ if environ is None else environ
    return tuple(imap_mailbox(imap, env) for imap in settings.mailboxes)


def imap_mailbox(imap: ImapSettings, environ: Mapping[str, str]) -> ImapMailbox:
    """An ImapMailbox logging in with OAuth2 when configured, else with the password."""
    provider = token_provider_for(imap.oauth2, environ)
    password = imap.password.get_secret_value() if imap.password is not None and provider is None else None
    return ImapMailbox(imap, password=password, token_provider=provider)
