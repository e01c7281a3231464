"""Travel-time estimates for dispatch: great-circle distance, a road-winding factor and speeds by distance band.

The road distance is the great-circle (haversine) distance times the winding factor. It is driven piecewise:
the first `city_km` of road at city speed, the part up to `intercity_km` at expressway speed and anything
beyond at the remote speed (long trips end on county roads), plus a fixed setup time. Piecewise, not one
speed per trip, so that a longer trip never takes less time than a shorter one. Minutes round up.

Every scalar function here runs the numpy version on one value, so the scalar and vectorised results are
identical to the last bit (the optimizer works on arrays, explanations and tests on single trips).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from huoban.config import Settings

EARTH_RADIUS_KM = 6371.0088
BANDS = ("city", "intercity", "remote")


def _haversine(lon1: NDArray[np.float64], lat1: NDArray[np.float64], lon2: NDArray[np.float64],
               lat2: NDArray[np.float64]) -> NDArray[np.float64]:
    phi1 = np.radians(lat1)
    phi2 = np.radians(lat2)
    dphi = phi2 - phi1
    dlmb = np.radians(lon2 - lon1)
    h = np.sin(dphi / 2.0) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2.0) ** 2
    return np.asarray(2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0))), dtype=np.float64)


def great_circle_km_array(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> NDArray[np.float64]:
    """Element-wise (broadcasting) great-circle distances in kilometres."""
    f = np.float64
    return _haversine(np.asarray(lon1, f), np.asarray(lat1, f), np.asarray(lon2, f), np.asarray(lat2, f))


def great_circle_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance between two points given as (longitude, latitude) in degrees, in kilometres."""
    return float(great_circle_km_array([lon1], [lat1], [lon2], [lat2])[0])


def distance_matrix_km(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> NDArray[np.float64]:
    """Great-circle km from each of the first points (rows) to each of the second points (columns)."""
    f = np.float64
    return _haversine(np.asarray(lon1, f)[:, None], np.asarray(lat1, f)[:, None],
                      np.asarray(lon2, f)[None, :], np.asarray(lat2, f)[None, :])


@dataclass(frozen=True)
class TravelModel:
    """How long an engineer needs to reach a site `distance_km` (great-circle) away."""

    winding_factor: float = 1.35
    city_km: float = 40.0
    city_kmh: float = 30.0
    intercity_km: float = 300.0
    intercity_kmh: float = 80.0
    remote_kmh: float = 55.0
    setup_minutes: int = 15

    def __post_init__(self) -> None:
        if self.winding_factor < 1.0:
            raise ValueError("winding_factor must be at least 1")
        if min(self.city_km, self.city_kmh, self.intercity_kmh, self.remote_kmh) <= 0:
            raise ValueError("distances and speeds must be positive")
        if self.intercity_km < self.city_km:
            raise ValueError("intercity_km must not be below city_km")
        if self.setup_minutes < 0:
            raise ValueError("setup_minutes must not be negative")

    @classmethod
    def from_settings(cls, settings: Settings) -> TravelModel:
        return cls(
            winding_factor=settings.dispatch_winding_factor,
            city_km=settings.dispatch_city_km,
            city_kmh=settings.dispatch_city_kmh,
            intercity_km=settings.dispatch_intercity_km,
            intercity_kmh=settings.dispatch_intercity_kmh,
            remote_kmh=settings.dispatch_remote_kmh,
            setup_minutes=settings.dispatch_setup_minutes,
        )

    def road_km_array(self, distance_km: ArrayLike) -> NDArray[np.float64]:
        return np.asarray(distance_km, dtype=np.float64) * self.winding_factor

    def road_km(self, distance_km: float) -> float:
        return float(self.road_km_array([distance_km])[0])

    def minutes_array(self, distance_km: ArrayLike) -> NDArray[np.int64]:
        """Whole minutes (rounded up) from great-circle km, element-wise."""
        road = self.road_km_array(distance_km)
        city = np.minimum(road, self.city_km)
        inter = np.clip(road - self.city_km, 0.0, self.intercity_km - self.city_km)
        remote = np.maximum(road - self.intercity_km, 0.0)
        hours = city / self.city_kmh + inter / self.intercity_kmh + remote / self.remote_kmh
        # round to 1e-9 min first so that float noise does not push an exact minute up by one
        driving = np.ceil(np.round(hours * 60.0, 9))
        return (driving + self.setup_minutes).astype(np.int64)

    def minutes(self, distance_km: float) -> int:
        """Whole minutes (rounded up) to cover `distance_km` great-circle kilometres, setup included."""
        return int(self.minutes_array([distance_km])[0])

    def band_array(self, distance_km: ArrayLike) -> NDArray[np.int8]:
        """0 city, 1 intercity, 2 remote: where the trip ends up, by road distance (see BANDS)."""
        road = self.road_km_array(distance_km)
        return np.where(road <= self.city_km, 0, np.where(road <= self.intercity_km, 1, 2)).astype(np.int8)

    def band(self, distance_km: float) -> str:
        """"city" | "intercity" | "remote", for explanations."""
        return BANDS[int(self.band_array([distance_km])[0])]
