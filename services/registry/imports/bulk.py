"""An import's members rows and events, built a chunk at a time: the same columns and payloads as a form's.

``members.new_member_row`` and ``kit.events.new_event`` pay per row for what a chunk can share: a read of the random
source for each id and nonce, the associated data of each seal, the clock, the subject and the event type. Here
those are paid once per chunk; the rows, blobs and payloads are the same (tests compare them with the per-row path).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter

from google.protobuf.timestamp_pb2 import Timestamp

from jinqiao.events.v1 import meta_pb2, registry_events_pb2
from jinqiao.kit import pii
from jinqiao.kit.crypto import FieldCipher
from jinqiao.kit.events import event_type, subject
from jinqiao.registry.deps import SERVICE
from jinqiao.registry.members import domain
from jinqiao.registry.members import service as members
from jinqiao.registry.members.models import MEMBER_FIELDS, MEMBERS, MemberRow

# A members row's column values in MEMBER_FIELDS order, read by one C call (MemberRow.values() loops in Python).
member_values = attrgetter(*MEMBER_FIELDS)
# An outbox row as copy_outbox writes it: tenant, event id, subject, type, version, payload, traceparent.
OutboxRecord = tuple[str, str, str, str, int, bytes, str | None]


def uuid4_texts(n: int) -> list[str]:
    """n random (version 4, RFC 4122 variant) UUIDs as text, from one read of the OS's random source."""
    raw = bytearray(os.urandom(16 * n))
    out: list[str] = []
    for at in range(0, 16 * n, 16):
        raw[at + 6] = (raw[at + 6] & 0x0F) | 0x40
        raw[at + 8] = (raw[at + 8] & 0x3F) | 0x80
        h = raw[at:at + 16].hex()
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def member_rows(checked: Sequence[domain.NewMember], *, bidx: Sequence[bytes], tenant: str, cipher: FieldCipher,
                now: datetime) -> list[MemberRow]:
    """The members rows of validated people, as ``members.new_member_row`` builds them (bidx already computed)."""
    ids = uuid4_texts(len(checked))
    id_enc = cipher.encrypt_many([m.id_number for m in checked], tenant=tenant, table=MEMBERS, column="id_number",
                                 rows=ids)
    phoned = [i for i, m in enumerate(checked) if m.phone]
    phone_enc = dict(zip(phoned, cipher.encrypt_many([str(checked[i].phone) for i in phoned], tenant=tenant,
                                                     table=MEMBERS, column="phone", rows=[ids[i] for i in phoned]),
                         strict=True))
    return [
        MemberRow(
            tenant_id=tenant, id=ids[i], name=m.name, gender=int(m.gender), birth_date=m.birth_date,
            id_number_enc=id_enc[i], id_number_bidx=bidx[i], id_number_masked=pii.mask_id_number(m.id_number),
            phone_enc=phone_enc.get(i), phone_masked=pii.mask_phone(m.phone) if m.phone else "",
            membership_status=int(m.membership_status), township=m.township, village=m.village,
            occupation=m.occupation, join_date=m.join_date, request_id=None, created_at=now, version=1,
            ethnicity=m.ethnicity, education=m.education, home_branch_id=m.home_branch_id,
            household_address=m.household_address, full_member_date=m.full_member_date,
        )
        for i, m in enumerate(checked)
    ]


def registration_events(rows: Sequence[MemberRow], *, tenant: str, cipher: FieldCipher, now: datetime,
                        traceparent: str | None) -> list[OutboxRecord]:
    """Each new member's MemberRegistered and sealed MemberProfileChanged, as outbox records, in that order."""
    event_ids = uuid4_texts(2 * len(rows))
    seals = cipher.encrypt_many([str(r.birth_date.year) for r in rows], tenant=tenant, table=pii.PROFILE_SEAL_TABLE,
                                column=pii.PROFILE_SEAL_COLUMN, rows=[r.id for r in rows])
    occurred = Timestamp()
    occurred.FromDatetime(now)
    kinds = [(subject(tenant=tenant, service=SERVICE, message_cls=cls), event_type(cls))
             for cls in (registry_events_pb2.MemberRegistered, registry_events_pb2.MemberProfileChanged)]
    out: list[OutboxRecord] = []
    for i, row in enumerate(rows):
        registered = members.member_registered(row)
        # A new member's facts are the row's alone (no 双向评议, never away yet).
        profile = members.member_profile(row)
        profile.birth_year_sealed = seals[i]
        for (event_subject, kind), message, event_id in ((kinds[0], registered, event_ids[2 * i]),
                                                         (kinds[1], profile, event_ids[2 * i + 1])):
            message.meta.CopyFrom(meta_pb2.EventMeta(
                event_id=event_id, tenant_id=tenant, aggregate_id=row.id, aggregate_version=row.version,
                occur_time=occurred, traceparent=traceparent or ""))
            out.append((tenant, event_id, event_subject, kind, 1, message.SerializeToString(), traceparent))
    return out
