"""IsolationForest second opinion: obvious outliers are flagged, ordinary contacts are not."""

from __future__ import annotations

import secrets

import numpy as np
import pytest
from sqlalchemy import Engine

from aman.audit.service import AuditService
from aman.monitor import Monitor, MonitorSettings
from aman.monitor.forest import find_outliers, train
from aman.monitor.traffic import FEATURES
from aman.storage.db import make_engine
from aman.storage.migrate import upgrade
from aman.storage.vault import Vault

T = "shop"
PN = "106540352242922"


def normal_contacts(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack(
        [
            np.log1p(rng.gamma(2.0, 3.0, n)),  # messages per hour
            rng.integers(1, 6, n).astype(float),  # distinct hours
            np.log1p(rng.normal(40, 12, n).clip(2)),  # mean length
            rng.beta(1, 12, n),  # url ratio
            np.log1p(rng.poisson(0.1, n)),  # failed verifications
            np.log1p(rng.uniform(1, 2000, n)),  # age in hours
            (rng.random(n) < 0.1).astype(float),  # new contact
            np.zeros(n),  # phishing ratio
            np.log1p(rng.poisson(20, n)),  # messages total
        ]
    )


def test_obvious_outlier_is_flagged_and_normal_contacts_are_not() -> None:
    s = MonitorSettings()
    x = normal_contacts(300)
    bot = np.array([[np.log1p(900), 24, np.log1p(300), 1.0, np.log1p(12), 0.1, 1, 0.9, 7.0]])
    matrix = np.vstack([x, bot])
    ixs = [f"c{i}" for i in range(300)] + ["the-bot"]
    model = train(T, matrix, s, now=0.0)
    assert model is not None and model.samples == 301
    flagged = find_outliers(model, ixs, matrix, s)
    assert [o.contact_ix for o in flagged] == ["the-bot"]
    assert flagged[0].score >= s.forest_score_threshold
    assert set(flagged[0].features) <= set(FEATURES) and len(flagged[0].features) == 3
    # Trained on ordinary contacts only, the forest flags nobody.
    plain = train(T, x, s, now=0.0)
    assert plain is not None and find_outliers(plain, ixs[:300], x, s) == []


def test_too_few_contacts_means_no_model() -> None:
    s = MonitorSettings(forest_min_contacts=50)
    assert train(T, normal_contacts(20), s, now=0.0) is None
    with pytest.raises(ValueError):
        train(T, np.zeros((60, 3)), s, now=0.0)


@pytest.fixture
def engine(tmp_path: object) -> Engine:
    eng = make_engine(f"sqlite:///{tmp_path}/f.db")
    upgrade(eng)
    return eng


def test_monitor_trains_on_detector_state_and_raises_an_alert(engine: Engine) -> None:
    master = secrets.token_bytes(32)
    now = [1_750_000_000.0]
    m = Monitor(
        engine,
        Vault.open_or_create(engine, T, master),
        AuditService(master),
        MonitorSettings(flood_per_minute=1000, quarantine_per_minute=1000),
        clock=lambda: now[0],
    )
    rng = np.random.default_rng(7)
    start = now[0] - 6 * 3600
    for i in range(120):  # ordinary customers: a few messages over the last hours
        ix = f"{i:04x}" + "ab" * 14
        for _k in range(int(rng.integers(2, 8))):
            ts = start + float(rng.uniform(0, 6 * 3600))
            m.inbound_message(T, PN, ix, ts, is_new_contact=False)
            m.traffic.text_seen(T, ix, int(rng.integers(10, 80)), False, False, ts)
    odd = "ff" * 16
    for k in range(400):  # one contact hammering with links, all inside the last minutes
        ts = now[0] - 300 + k * 0.7
        m.inbound_message(T, PN, odd, ts, is_new_contact=True)
        m.traffic.text_seen(T, odd, 300, True, True, ts)
    for k in range(6):
        m.verification_failed(T, odd, now[0] - 100 + k)
    model = m.train(T)
    assert model is not None and model.samples == 121
    outliers = [a for a in m.flush() if a.kind == "behaviour_outlier"]
    assert [a.subject for a in outliers] == [f"contact:{odd}"]
    assert outliers[0].severity == "low" and outliers[0].details["trained_on"] == 121
    assert m.score(T) == 1  # rescoring with the stored model finds it again


def test_warm_up_and_bounded_training_buffer() -> None:
    s = MonitorSettings(forest_warmup_seconds=3600.0, forest_max_train=1000)
    young = normal_contacts(300)
    young[:, FEATURES.index("contact_age_hours")] = np.log1p(0.5)  # 30 minutes of history
    assert train(T, young, s, now=0.0) is None
    model = train(T, normal_contacts(5000), s, now=0.0)
    assert model is not None and model.samples == 1000
    assert model.threshold >= s.forest_score_threshold


def test_tiny_differences_on_uniform_contacts_are_not_outliers() -> None:
    """Identical contacts, a few with one message more or active in a second hour: the
    forest isolates them quickly (high scores), yet none is unusual."""
    s = MonitorSettings()
    row = [np.log1p(4.0), 1.0, np.log1p(20.0), 0.0, 0.0, np.log1p(3.0), 1.0, 0.0, np.log1p(12)]
    x = np.tile(np.array(row), (1000, 1))
    x[:5, -1] = np.log1p(13)
    x[5:8, 1] = 2.0
    ixs = [f"c{i}" for i in range(1000)]
    model = train(T, x, s, now=0.0)
    assert model is not None
    assert find_outliers(model, ixs, x, s) == []
    # Scores alone (no deviation floor) would flag them: they are isolated at once.
    ungated = s.with_(forest_min_deviation=0.0, forest_score_threshold=0.7)
    loose = train(T, x, ungated, now=0.0)
    assert loose is not None
    flagged = {o.contact_ix for o in find_outliers(loose, ixs, x, ungated)}
    assert flagged and flagged <= set(ixs[:8])


def test_steady_soak_traffic_for_hours_raises_no_outlier_but_an_attacker_does(
    engine: Engine,
) -> None:
    """Soak-like load (every customer writes every 20 s, same short texts) across two hour
    boundaries, scored every minute and retrained every 15 minutes: no behaviour_outlier.
    Then one contact starts flooding with links and is flagged at the next retraining
    (a forest cannot isolate values outside the range it was trained on)."""
    master = secrets.token_bytes(32)
    t0 = 1_750_003_540.0  # one minute before an hour boundary
    now = [t0]
    s = MonitorSettings(flood_per_minute=1000, quarantine_per_minute=1000)
    m = Monitor(
        engine,
        Vault.open_or_create(engine, T, master),
        AuditService(master),
        s,
        clock=lambda: now[0],
    )
    rng = np.random.default_rng(11)
    customers, rate = 400, 12.0
    windows = trained = 0
    next_tick = t0 + s.score_seconds
    for i in range(int(rate * 2.2 * 3600)):
        now[0] = t0 + i / rate
        ts = float(int(now[0] - rng.exponential(0.5)))  # whole seconds, as Meta sends them
        ix = f"{i % customers:032x}"
        m.inbound_message(T, PN, ix, ts)
        m.traffic.text_seen(T, ix, len(f"soak run {i}"), False, False, ts)
        if now[0] >= next_tick:
            next_tick += s.score_seconds
            windows += 1
            if T not in m.models or windows % 15 == 0:
                trained += m.train(T) is not None
            else:
                m.score(T)
    assert windows >= 130 and trained >= 5  # the warm-up ended and the forest ran for hours
    assert [a for a in m.flush() if a.kind == "behaviour_outlier"] == []
    odd = "ff" * 16
    for _k in range(300):
        now[0] += 0.5
        m.inbound_message(T, PN, odd, now[0])
        m.traffic.text_seen(T, odd, 280, True, True, now[0])
    model = m.train(T)
    assert model is not None and model.samples == customers + 1
    outliers = [a for a in m.flush() if a.kind == "behaviour_outlier"]
    assert [a.subject for a in outliers] == [f"contact:{odd}"]
