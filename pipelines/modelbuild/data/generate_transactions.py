#!/usr/bin/env python3
"""Regenerate data/transactions.csv, the seed model's card-transaction data set (synthetic, seeded).

The file is committed so that nothing downloads at run time; this script documents how it was made:
    python data/generate_transactions.py --rows 20000 --seed 7 > data/transactions.csv
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd


def generate(rows: int, seed: int) -> pd.DataFrame:
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    generate(args.rows, args.seed).to_csv(sys.stdout, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
