"""Travel-time estimates: great-circle distance, bands, piecewise speeds, and vectorised == scalar."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huoban.config import Settings
from huoban.dispatch.travel import TravelModel, distance_matrix_km, great_circle_km, great_circle_km_array

JINAN = (117.000923, 36.675807)
QINGDAO = (120.369557, 36.094406)
DEFAULT = TravelModel()

lons = st.floats(73.0, 135.0, allow_nan=False)
lats = st.floats(3.0, 54.0, allow_nan=False)
kms = st.floats(0.0, 5000.0, allow_nan=False)


def test_jinan_to_qingdao_is_about_300_km() -> None:
    km = great_circle_km(*JINAN, *QINGDAO)
    assert 270 <= km <= 330
    assert great_circle_km(*QINGDAO, *JINAN) == pytest.approx(km)
    assert great_circle_km(*JINAN, *JINAN) == 0.0


def test_model_from_settings_uses_the_dispatch_settings() -> None:
    settings = Settings(dispatch_winding_factor=1.5, dispatch_city_km=10, dispatch_city_kmh=20,
                        dispatch_intercity_km=100, dispatch_intercity_kmh=90, dispatch_remote_kmh=45,
                        dispatch_setup_minutes=5)
    model = TravelModel.from_settings(settings)
    assert model == TravelModel(1.5, 10.0, 20.0, 100.0, 90.0, 45.0, 5)
    assert TravelModel.from_settings(Settings()) == DEFAULT


def test_bands_by_road_distance() -> None:
    factor = DEFAULT.winding_factor
    assert DEFAULT.band(0) == "city"
    assert DEFAULT.band(40 / factor - 0.01) == "city"
    assert DEFAULT.band(41 / factor) == "intercity"
    assert DEFAULT.band(299 / factor) == "intercity"
    assert DEFAULT.band(301 / factor) == "remote"
    assert DEFAULT.band(great_circle_km(*JINAN, *QINGDAO)) == "remote"  # about 400 km of road


def test_minutes_drive_each_band_at_its_speed_plus_setup() -> None:
    model = TravelModel(winding_factor=1.0)
    assert model.minutes(0) == 15
    assert model.minutes(30) == 15 + 60  # 30 km at 30 km/h
    assert model.minutes(40) == 15 + 80
    assert model.minutes(120) == 15 + 80 + 60  # then 80 km at 80 km/h
    # 40 km city (80 min) + 260 km expressway (195 min) + 100 km at 55 km/h (109.09 min, rounded up)
    assert model.minutes(400) == 15 + 80 + 195 + 110
    assert TravelModel(winding_factor=2.0).minutes(20) == 15 + 80  # the winding factor lengthens the road


@settings(deadline=None)
@given(kms, kms)
def test_a_longer_trip_never_takes_less_time(a: float, b: float) -> None:
    near, far = sorted((a, b))
    assert DEFAULT.minutes(near) <= DEFAULT.minutes(far)


@settings(deadline=None)
@given(st.lists(st.tuples(lons, lats), min_size=1, max_size=6), st.lists(st.tuples(lons, lats), min_size=1, max_size=6))
def test_vectorised_distances_and_minutes_equal_the_scalar_ones(
    left: list[tuple[float, float]], right: list[tuple[float, float]]
) -> None:
    matrix = distance_matrix_km([p[0] for p in left], [p[1] for p in left], [q[0] for q in right],
                                [q[1] for q in right])
    assert matrix.shape == (len(left), len(right))
    minutes = DEFAULT.minutes_array(matrix)
    bands = DEFAULT.band_array(matrix)
    for i, p in enumerate(left):
        for j, q in enumerate(right):
            km = great_circle_km(p[0], p[1], q[0], q[1])
            assert matrix[i, j] == km
            assert minutes[i, j] == DEFAULT.minutes(km)
            assert ("city", "intercity", "remote")[bands[i, j]] == DEFAULT.band(km)
    pairwise = great_circle_km_array([p[0] for p in left], [p[1] for p in left], right[0][0], right[0][1])
    assert np.array_equal(pairwise, matrix[:, 0])


def test_bad_models_are_refused() -> None:
    with pytest.raises(ValueError):
        TravelModel(winding_factor=0.5)
    with pytest.raises(ValueError):
        TravelModel(city_km=100, intercity_km=50)
    with pytest.raises(ValueError):
        TravelModel(remote_kmh=0)
