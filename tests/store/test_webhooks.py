"""Standard Webhooks signing and the outbox dispatcher against a real loopback receiver."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from gateway.auth.config import WebhookTarget
from gateway.payments.config import WebhookDispatchConfig
from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import PaymentStatus
from gateway.payments.outbox import OutboxStatus
from gateway.payments.webhooks import OutboxDispatcher
from gateway.store import Store
from gateway.webhook_signatures import (
    WebhookVerificationError,
    new_secret,
    sign,
    signed_headers,
    verify,
)
from tests.store.conftest import new_payment
from tests.support.clock import FakeClock

S = PaymentStatus
NEW_SECRET = new_secret()
OLD_SECRET = new_secret()


def test_signature_matches_the_specification_example() -> None:
    """sign() reproduces the Standard Webhooks specification's example signature."""
    signature = sign(
        ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_two_secrets_sign_twice_and_either_verifies(clock: FakeClock) -> None:
    """During rotation the header carries two signatures; a receiver knowing either accepts."""
    ts = int(clock().timestamp())
    headers = signed_headers([NEW_SECRET, OLD_SECRET], "evt_1", ts, b"{}")
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verify([OLD_SECRET], headers, b"{}", now=clock()) == "evt_1"
    assert verify([NEW_SECRET], headers, b"{}", now=clock()) == "evt_1"


@pytest.mark.parametrize("tamper", ["body", "secret", "stale", "missing"])
def test_verify_refuses_what_does_not_match(tamper: str, clock: FakeClock) -> None:
    """A changed body, an unknown secret, a stale timestamp or a missing header fail."""
    ts = int(clock().timestamp())
    headers = signed_headers([NEW_SECRET], "evt_1", ts, b'{"a":1}')
    body, secrets_, now = b'{"a":1}', [NEW_SECRET], clock()
    if tamper == "body":
        body = b'{"a":2}'
    elif tamper == "secret":
        secrets_ = [OLD_SECRET]
    elif tamper == "stale":
        now = now + timedelta(minutes=6)
    else:
        del headers["webhook-signature"]
    with pytest.raises(WebhookVerificationError):
        verify(secrets_, headers, body, now=now)


class Receiver:
    """The one-stop system's webhook endpoint: verifies both signatures, dedupes by id, counts."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.mode = "ok"  # or "unavailable" (503)
        self.attempts = 0
        self.bad_signatures = 0
        self.accepted: Counter[str] = Counter()
        self.first_seen: list[dict[str, object]] = []
        self.runner: web.AppRunner | None = None
        self.site: web.TCPSite | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.attempts += 1
        try:
            ids = {
                verify([s], request.headers, body, now=self.clock())
                for s in (NEW_SECRET, OLD_SECRET)
            }
        except WebhookVerificationError:
            self.bad_signatures += 1
            return web.Response(status=400)
        if self.mode == "unavailable":
            return web.Response(status=503)
        (msg_id,) = ids
        if not self.accepted[msg_id]:
            self.first_seen.append(json.loads(body))
        self.accepted[msg_id] += 1
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await self.up()

    async def up(self) -> None:
        assert self.runner is not None
        self.site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await self.site.start()
        self.port = self.runner.addresses[-1][1]

    async def down(self) -> None:
        """Stop listening: connections are refused until up() again."""
        assert self.site is not None
        await self.site.stop()

    @property
    def target(self) -> WebhookTarget:
        return WebhookTarget(
            url=f"http://127.0.0.1:{self.port}/hooks",
            secrets=[SecretStr(NEW_SECRET), SecretStr(OLD_SECRET)],
        )


@pytest.fixture
async def receiver(clock: FakeClock) -> AsyncIterator[Receiver]:
    """A running receiver on a loopback port."""
    rx = Receiver(clock)
    await rx.start()
    yield rx
    assert rx.runner is not None
    await rx.runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """The dispatcher's outbound session."""
    async with aiohttp.ClientSession() as s:
        yield s


def make_dispatcher(
    store: Store,
    receiver: Receiver,
    session: aiohttp.ClientSession,
    clock: FakeClock,
    rng: Callable[[], float] = lambda: 1.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    **config: object,
) -> OutboxDispatcher:
    settings = {
        "backoff_initial_seconds": 1,
        "backoff_max_seconds": 8,
        "attempt_timeout_seconds": 5,
        **config,
    }
    return OutboxDispatcher(
        store,
        lambda client_id: receiver.target if client_id == "one-stop" else None,
        session,
        config=WebhookDispatchConfig.model_validate(settings),
        clock=clock,
        rng=rng,
        sleep=sleep,
    )


async def _drain(dispatcher: OutboxDispatcher, clock: FakeClock, rounds: int = 200) -> None:
    """Run rounds, moving the clock past every backoff, until nothing is pending."""
    for _ in range(rounds):
        await dispatcher.run_once()
        if not await dispatcher.list_events(OutboxStatus.PENDING):
            return
        clock.advance(10)
    raise AssertionError("outbox did not drain")


async def test_every_event_arrives_once_in_order_after_an_outage(
    ledger: PaymentLedger,
    store: Store,
    receiver: Receiver,
    session: aiohttp.ClientSession,
    clock: FakeClock,
) -> None:
    """Receiver refusing, then 503, then up: every event delivered once, in order per payment."""
    expected: dict[str, list[int]] = {}
    for final in (S.PAID, S.FAILED, S.CANCELLED):
        payment = await new_payment(ledger)
        await ledger.transition(payment.id, S.PENDING, reason="sent")
        await ledger.transition(payment.id, final, paid_amount=150_000, reason="done")
        expected[payment.id] = [2, 3]
    dispatcher = make_dispatcher(store, receiver, session, clock)

    await receiver.down()
    for _ in range(3):
        assert await dispatcher.run_once() == 3  # one event per payment is due at a time
        clock.advance(10)
    await receiver.up()
    receiver.mode = "unavailable"
    for _ in range(3):
        await dispatcher.run_once()
        clock.advance(10)
    assert receiver.accepted == Counter()
    receiver.mode = "ok"
    await _drain(dispatcher, clock)

    all_ids = {e.id for e in await dispatcher.list_events(OutboxStatus.DELIVERED)}
    assert len(all_ids) == 6
    assert set(receiver.accepted) == all_ids
    assert set(receiver.accepted.values()) == {1}
    assert receiver.bad_signatures == 0
    seen: dict[str, list[int]] = {}
    for body in receiver.first_seen:
        data = body["data"]
        assert isinstance(data, dict)
        seen.setdefault(data["payment_id"], []).append(data["version"])
    assert seen == expected


async def test_backoff_grows_exponentially_up_to_the_cap(
    ledger: PaymentLedger,
    store: Store,
    receiver: Receiver,
    session: aiohttp.ClientSession,
    clock: FakeClock,
) -> None:
    """With jitter at its top, successive delays are 1, 2, 4, 8, 8 s (initial 1 s, cap 8 s)."""
    receiver.mode = "unavailable"
    payment = await new_payment(ledger)
    await ledger.transition(payment.id, S.PENDING, reason="sent")
    dispatcher = make_dispatcher(store, receiver, session, clock)
    delays = []
    for _ in range(5):
        assert await dispatcher.run_once() == 1
        (event,) = await dispatcher.list_events(OutboxStatus.PENDING)
        delays.append((event.next_attempt_at - clock()).total_seconds())
        clock.now = event.next_attempt_at
    assert delays == [1, 2, 4, 8, 8]


async def test_full_jitter_draws_below_the_ceiling(
    ledger: PaymentLedger,
    store: Store,
    receiver: Receiver,
    session: aiohttp.ClientSession,
    clock: FakeClock,
) -> None:
    """The delay is the random draw times the exponential ceiling (full jitter)."""
    receiver.mode = "unavailable"
    payment = await new_payment(ledger)
    await ledger.transition(payment.id, S.PENDING, reason="sent")
    dispatcher = make_dispatcher(store, receiver, session, clock, rng=lambda: 0.25)
    await dispatcher.run_once()
    clock.advance(1)
    await dispatcher.run_once()
    (event,) = await dispatcher.list_events(OutboxStatus.PENDING)
    assert (event.next_attempt_at - clock()).total_seconds() == 0.5


async def test_dead_letter_after_max_age_then_retry_and_replay(
    ledger: PaymentLedger,
    store: Store,
    receiver: Receiver,
    session: aiohttp.ClientSession,
    clock: FakeClock,
) -> None:
    """Failing past max_age dead-letters; retry delivers it; replay resends the same webhook-id."""
    receiver.mode = "unavailable"
    payment = await new_payment(ledger)
    result = await ledger.transition(payment.id, S.PENDING, reason="sent")
    assert result.event_id
    dispatcher = make_dispatcher(store, receiver, session, clock, max_age_seconds=60)
    started = clock()
    for _ in range(30):
        await dispatcher.run_once()
        if await dispatcher.list_events(OutboxStatus.DEAD):
            break
        clock.advance(8)
    (dead,) = await dispatcher.list_events(OutboxStatus.DEAD)
    assert dead.id == result.event_id
    assert clock() - started >= timedelta(minutes=1)
    assert dead.last_error == "HTTP 503"
    assert receiver.attempts == dead.attempts

    receiver.mode = "ok"
    assert await dispatcher.retry(dead.id)
    await dispatcher.run_once()
    assert receiver.accepted[dead.id] == 1
    assert await dispatcher.replay(dead.id)
    await dispatcher.run_once()
    assert receiver.accepted[dead.id] == 2
    (delivered,) = await dispatcher.list_events(OutboxStatus.DELIVERED)
    assert delivered.id == dead.id


async def test_client_without_webhook_dead_letters(
    ledger: PaymentLedger,
    store: Store,
    receiver: Receiver,
    session: aiohttp.ClientSession,
    clock: FakeClock,
) -> None:
    """An event for a client with no webhook target is dead-lettered with the reason."""
    payment = await new_payment(ledger, client_id="portal")
    await ledger.transition(payment.id, S.PENDING, reason="sent")
    dispatcher = make_dispatcher(store, receiver, session, clock)
    await dispatcher.run_once()
    (dead,) = await dispatcher.list_events(OutboxStatus.DEAD)
    assert dead.last_error == "no webhook target configured"
    assert receiver.attempts == 0


async def test_run_forever_delivers_then_stops(
    ledger: PaymentLedger,
    store: Store,
    receiver: Receiver,
    session: aiohttp.ClientSession,
    clock: FakeClock,
) -> None:
    """run_forever drains the outbox with the injected sleep and returns when stop is set."""
    payment = await new_payment(ledger)
    await ledger.transition(payment.id, S.PENDING, reason="sent")
    await ledger.transition(payment.id, S.PAID, paid_amount=150_000, reason="paid")
    stop = asyncio.Event()

    async def fake_sleep(seconds: float) -> None:
        clock.advance(seconds)
        if sum(receiver.accepted.values()) == 2:
            stop.set()
        await asyncio.sleep(0)

    dispatcher = make_dispatcher(store, receiver, session, clock, sleep=fake_sleep)
    await asyncio.wait_for(dispatcher.run_forever(stop), timeout=20)
    assert sum(receiver.accepted.values()) == 2
