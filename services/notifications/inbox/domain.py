"""Whose inbox: the addresses a principal reads. No framework imports."""

from __future__ import annotations

from jinqiao.kit.auth import Principal, Role
from jinqiao.notifications.directory.domain import member_address, seat_address, user_address


def addresses_of(principal: Principal) -> tuple[str, ...]:
    """The addresses whose in-app rows this principal sees: a member their own; a login itself and its office."""
    if principal.role is Role.MEMBER:
        return (member_address(principal.member),) if principal.member else ()
    addresses = [user_address(principal.user)]
    if principal.role is Role.COUNTY_ADMIN and principal.tenant:
        addresses.append(seat_address(principal.role.value, principal.tenant))
    elif principal.org:
        addresses.append(seat_address(principal.role.value, principal.org))
    return tuple(addresses)
