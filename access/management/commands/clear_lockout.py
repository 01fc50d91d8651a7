"""End a failed-login lockout now: of a user name, of a client address, or both."""

from __future__ import annotations

import ipaddress

from django.core.management.base import BaseCommand, CommandError, CommandParser

from access import accounts, lockout


class Command(BaseCommand):
    help = (
        "Forget the failed logins counted for a user name (--user; every spelling of it, and "
        "the counts of the devices that logged in as it) and/or a client address (--address), "
        "so that they may log in again now. Says what it cleared."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="the user name, as typed on the login form")
        parser.add_argument("--address", help="the client address, e.g. 192.0.2.7 or 2001:db8::7")

    def handle(self, *args, user: str | None = None, address: str | None = None,
               **options) -> None:
        if user is None and address is None:
            raise CommandError("Give --user NAME, --address ADDRESS, or both.")
        if address is not None:
            try:
                address = str(ipaddress.ip_address(address.strip()))
            except ValueError:
                raise CommandError(f"--address: {address!r} is not an IP address.") from None
        keys = accounts.keys_for(user) if user is not None else []
        try:
            found = lockout.clear(address=address, accounts=keys)
        except Exception as exc:
            raise CommandError(f"The cache that holds the counts is unavailable ({exc}); "
                               "nothing was cleared.") from None
        address_found = [f for f in found if f.scope == "address"]
        user_found = [f for f in found if f.scope == "user"]
        if address is not None:
            self._say(f"address {address}", address_found)
        if user is not None:
            self._say(f"user {user!r}", user_found)
            self.stdout.write(f"Devices that logged in as {user!r} start counting afresh.")

    def _say(self, what: str, found: list[lockout.Cleared]) -> None:
        failures = sum(f.failures for f in found)
        if any(f.locked_out for f in found):
            self.stdout.write(self.style.SUCCESS(
                f"Cleared the lockout of {what} ({failures} failed logins forgotten)."))
        elif failures:
            self.stdout.write(f"{what[0].upper()}{what[1:]} was not locked out; "
                              f"forgot its {failures} failed logins.")
        else:
            self.stdout.write(f"Nothing to clear for {what}: no failed logins on record.")
