"""Shared settings and corpora of the fuzz tests in tests/faults.

Reproducing a failure: hypothesis prints the failing example, the ``@reproduce_failure(...)`` blob
(``print_blob=True``) and, for a run with a random seed, the ``--hypothesis-seed=N`` that replays the whole run::

    .venv/bin/python -m pytest tests/faults/test_fuzz_decoders.py --hypothesis-seed=12345
    PB_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest tests/faults -k fuzz      # a deeper run

``PB_FUZZ_EXAMPLES`` scales every fuzz test (default 200 examples each; CI uses the default). The default run is
derandomised (the same examples every time, so a CI run is repeatable); ``PB_FUZZ_RANDOM=1`` explores new ones::

    PB_FUZZ_RANDOM=1 PB_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/faults -k fuzz
"""

from __future__ import annotations

import asyncio
import functools
import os

from hypothesis import HealthCheck, settings

from posturebuddy.devices import TagFamily, all_families
from simulators.tags import make_virtual_tag
from simulators.wearer import simulate

EXAMPLES = int(os.environ.get("PB_FUZZ_EXAMPLES", "200"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("PB_FUZZ_RANDOM") is None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)

FAMILY_IDS = tuple(sorted(f.family_id for f in all_families()))


def family_uuids(family: TagFamily) -> list[str]:
    """Every characteristic a family's decoder may see (notify, info, battery, named ones), lower case."""
    uuids = {*family.notify_uuids, *family.characteristics.values()}
    uuids.update(u for u in (family.info_uuid, family.battery_uuid) if u)
    return sorted(u.lower() for u in uuids)


@functools.cache
def real_packets(family_id: str) -> tuple[tuple[str, bytes], ...]:
    """Genuine packets of a family, from its byte-exact virtual tag driven offline (no radio): the info read,
    a battery read, the motion notifications of 4 simulated seconds and, where the family polls registers,
    the replies to its poll commands."""
    from posturebuddy.devices import get_family

    family = get_family(family_id)
    recording = simulate("good_day", device=family_id, duration_s=6, seed=3)
    tag = make_virtual_tag(family_id, recording, rate_hz=family.default_rate_hz)
    tag.run_offline(family.notify_uuids)
    out: list[tuple[str, bytes]] = []

    async def drive() -> None:
        out.extend((u.lower(), tag.offline_read(u)) for u in (family.info_uuid, family.battery_uuid) if u)
        for write in [*family.start_commands(), *family.rate_commands(family.default_rate_hz)]:
            await tag.offline_write(write.char_uuid, write.data)
        t = 0.0
        while t < 4.0:
            tag.set_offline_time(t)
            frames = tag.take_sample(t)
            if frames:
                await tag.send_frames(frames)
            if family.poll_period_s and int(t * 10) % 5 == 0:
                for write in family.poll_commands():
                    await tag.offline_write(write.char_uuid, write.data)
            out.extend(tag.take_outbox())
            t += 1.0 / tag.rate_hz

    asyncio.run(drive())
    return tuple(out)
