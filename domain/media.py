"""What a sender attached (a photo of a handwritten list, a voice note, a document), kept once by
the provider's media id beside the message it came with (`inbound_media`, migration 0013)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from db.models import InboundMedia


def store_media(
    session: Session, inbound_id: int, media_id: str, content_type: str, data: bytes, sha256: str
) -> int | None:
    """Keep the file; None when this media id was kept before (a redelivery, a second fetch)."""
    return session.execute(
        insert(InboundMedia)
        .values(
            inbound_id=inbound_id,
            media_id=media_id,
            content_type=content_type,
            size_bytes=len(data),
            sha256=sha256,
            data=data,
        )
        .on_conflict_do_nothing(index_elements=[InboundMedia.media_id])
        .returning(InboundMedia.id)
    ).scalar_one_or_none()


def media_of(session: Session, inbound_id: int) -> list[InboundMedia]:
    return list(session.scalars(select(InboundMedia).where(InboundMedia.inbound_id == inbound_id)))
