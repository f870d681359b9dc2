#!/usr/bin/env python3
"""Seed data with real signal for each problem type, so that a new model trains, passes its gate and can be
served before the team has data of its own. Synthetic and seeded: the same arguments give the same rows.

    python data/seed_data.py --problem-type binary_classification > data/transactions.csv   # the committed file
    python data/seed_data.py --problem-type multiclass_classification --label segment
    python data/seed_data.py --problem-type regression --label demand --features price,promo,temperature_c

- binary_classification: card transactions, label `is_fraud` (3 % positives), the committed
  data/transactions.csv;
- multiclass_classification: customers in three segments, label `segment` (0, 1, 2);
- regression: daily product demand, label `demand`.
With `features` named (the model's `training.features`), the columns are those names, with a signal of the
same kind (a logistic, softmax or non-linear regression model of the standardised features).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

PROBLEM_TYPES = ("binary_classification", "multiclass_classification", "regression")
DEFAULT_LABELS = {"binary_classification": "is_fraud", "multiclass_classification": "segment",
                  "regression": "demand"}
CLASSES = 3


def transactions(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hour = rng.integers(0, 24, rows)
    amount = np.round(rng.lognormal(mean=3.6, sigma=1.1, size=rows), 2)
    merchant_category = rng.integers(0, 12, rows)
    distance_from_home_km = np.round(rng.gamma(shape=1.2, scale=15.0, size=rows), 2)
    distance_from_last_txn_km = np.round(rng.gamma(shape=0.9, scale=8.0, size=rows), 2)
    ratio_to_median_amount = np.round(amount / np.median(amount) * rng.lognormal(0, 0.3, rows), 3)
    online = rng.binomial(1, 0.35, rows)
    new_device = rng.binomial(1, 0.08, rows)
    foreign = rng.binomial(1, 0.05, rows)
    txn_count_24h = rng.poisson(3, rows)
    card_age_days = rng.integers(1, 3650, rows)

    night = ((hour <= 5) | (hour >= 23)).astype(float)
    risky_merchant = np.isin(merchant_category, [3, 7, 11]).astype(float)
    logit = (
        -9.0
        + 2.6 * np.log1p(ratio_to_median_amount)
        + 1.8 * night
        + 2.0 * risky_merchant
        + 0.045 * np.minimum(distance_from_home_km, 150)
        + 0.07 * np.minimum(distance_from_last_txn_km, 80)
        + 1.2 * online
        + 3.0 * new_device
        + 2.8 * foreign
        + 0.5 * np.maximum(txn_count_24h - 4, 0)
        - 0.8 * np.log10(card_age_days)
    )
    is_fraud = rng.binomial(1, 1 / (1 + np.exp(-logit)))
    return pd.DataFrame({
        "is_fraud": is_fraud,
        "amount": amount,
        "hour": hour,
        "merchant_category": merchant_category,
        "distance_from_home_km": distance_from_home_km,
        "distance_from_last_txn_km": distance_from_last_txn_km,
        "ratio_to_median_amount": ratio_to_median_amount,
        "online": online,
        "new_device": new_device,
        "foreign": foreign,
        "txn_count_24h": txn_count_24h,
        "card_age_days": card_age_days,
    })


def customers(rows: int, seed: int) -> pd.DataFrame:
    """Three customer segments (0 occasional, 1 regular, 2 premium) driven by spend, visits and tenure."""
    rng = np.random.default_rng(seed)
    tenure_months = rng.integers(1, 120, rows)
    monthly_spend = np.round(rng.lognormal(4.0, 0.8, rows), 2)
    visits_per_month = rng.poisson(6, rows)
    support_tickets = rng.poisson(0.6, rows)
    discount_share = np.round(rng.beta(2, 5, rows), 3)
    mobile_share = np.round(rng.beta(3, 2, rows), 3)
    age = rng.integers(18, 80, rows)
    spend, visits = np.log(monthly_spend), np.log1p(visits_per_month)
    scores = np.stack([
        np.zeros(rows),
        -6.0 + 1.1 * spend + 1.6 * visits + 0.012 * tenure_months - 2.0 * discount_share,
        -16.0 + 2.9 * spend + 2.2 * visits + 0.025 * tenure_months - 3.0 * discount_share - 0.4 * support_tickets,
    ], axis=1)
    segment = np.argmax(scores + rng.gumbel(size=scores.shape) * 0.3, axis=1)
    return pd.DataFrame({
        "segment": segment, "tenure_months": tenure_months, "monthly_spend": monthly_spend,
        "visits_per_month": visits_per_month, "support_tickets": support_tickets, "discount_share": discount_share,
        "mobile_share": mobile_share, "age": age,
    })


def demand(rows: int, seed: int) -> pd.DataFrame:
    """Daily units sold of a product: price elasticity, promotions, weekday, weather and holidays."""
    rng = np.random.default_rng(seed)
    price = np.round(rng.uniform(2.0, 20.0, rows), 2)
    competitor_price = np.round(price * rng.lognormal(0, 0.15, rows), 2)
    promo = rng.binomial(1, 0.2, rows)
    day_of_week = rng.integers(0, 7, rows)
    temperature_c = np.round(rng.normal(15, 8, rows), 1)
    holiday = rng.binomial(1, 0.04, rows)
    stock_level = rng.integers(0, 500, rows)
    weekend = (day_of_week >= 5).astype(float)
    expected = np.exp(
        5.0 - 1.2 * np.log(price) + 0.8 * np.log(competitor_price) + 0.45 * promo + 0.25 * weekend
        + 0.015 * temperature_c + 0.6 * holiday
    )
    units = np.minimum(rng.poisson(expected), stock_level + 40)
    return pd.DataFrame({
        "demand": units.astype(float), "price": price, "competitor_price": competitor_price, "promo": promo,
        "day_of_week": day_of_week, "temperature_c": temperature_c, "holiday": holiday, "stock_level": stock_level,
    })


def generic(problem_type: str, label: str, features: list[str], rows: int, seed: int) -> pd.DataFrame:
    """Standard-normal features with a known signal of the problem type's kind, named as configured."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(features)))
    weights = rng.uniform(0.5, 1.5, len(features)) * rng.choice([-1.0, 1.0], len(features))
    signal = x @ weights / np.sqrt(len(features)) + 0.5 * np.sin(x[:, 0] * 2)
    if problem_type == "binary_classification":
        target = rng.binomial(1, 1 / (1 + np.exp(-(3.0 * signal - 2.5))))
    elif problem_type == "multiclass_classification":
        second = x @ rng.uniform(-1.5, 1.5, len(features)) / np.sqrt(len(features))
        scores = np.stack([np.zeros(rows), 3.0 * signal, 3.0 * second], axis=1)
        target = np.argmax(scores + rng.gumbel(size=scores.shape) * 0.5, axis=1)
    else:
        target = 100 + 20 * signal + rng.normal(0, 5, rows)
    frame = pd.DataFrame(np.round(x, 4), columns=features)
    frame.insert(0, label, target)
    return frame


DOMAIN = {"binary_classification": transactions, "multiclass_classification": customers, "regression": demand}


def generate(problem_type: str, *, label: str | None = None, features: list[str] | tuple[str, ...] = (),
             rows: int = 20000, seed: int = 7) -> pd.DataFrame:
    """The seed data set: label first, then the features (the layout preprocess.py expects)."""
    if problem_type not in DOMAIN:
        raise ValueError(f"unknown problem type {problem_type!r} (one of {', '.join(PROBLEM_TYPES)})")
    label = label or DEFAULT_LABELS[problem_type]
    if features:
        return generic(problem_type, label, list(features), rows, seed)
    frame = DOMAIN[problem_type](rows, seed)
    return frame.rename(columns={DEFAULT_LABELS[problem_type]: label})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem-type", default="binary_classification", choices=PROBLEM_TYPES)
    parser.add_argument("--label")
    parser.add_argument("--features", default="", help="comma-separated feature names")
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    features = [f for f in args.features.split(",") if f]
    generate(args.problem_type, label=args.label, features=features, rows=args.rows, seed=args.seed).to_csv(
        sys.stdout, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
