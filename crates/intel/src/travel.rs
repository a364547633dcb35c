//! Travel physics: great-circle distance and the speed two located events imply. Locations
//! are only as precise as the geolocation behind them; a country centroid is hundreds of
//! kilometres from where the user is, so each position carries an accuracy radius that is
//! subtracted before a speed is judged (otherwise centroids would create impossible travel).

/// Mean Earth radius (IUGG), km.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// A position and how far from it the truth may be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub latitude: f64,
    pub longitude: f64,
    /// Radius, km, within which the real location lies.
    pub accuracy_km: f64,
}

/// Great-circle distance in km (haversine).
pub fn distance_km(a: Position, b: Position) -> f64 {
    let (p1, p2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let dp = p2 - p1;
    let dl = (b.longitude - a.longitude).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// What two located events, `seconds` apart, say about travel between them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Travel {
    pub distance_km: f64,
    /// The distance that must have been covered at least, once both accuracy radii are
    /// allowed for.
    pub min_distance_km: f64,
    pub hours: f64,
    /// Speed implied by the minimum distance; infinite when the events are simultaneous but
    /// necessarily apart.
    pub min_speed_kmh: f64,
}

impl Travel {
    pub fn between(a: Position, b: Position, seconds: f64) -> Travel {
        let distance = distance_km(a, b);
        let min_distance = (distance - a.accuracy_km - b.accuracy_km).max(0.0);
        let hours = seconds.abs() / 3600.0;
        let min_speed = if min_distance == 0.0 {
            0.0
        } else if hours == 0.0 {
            f64::INFINITY
        } else {
            min_distance / hours
        };
        Travel { distance_km: distance, min_distance_km: min_distance, hours, min_speed_kmh: min_speed }
    }

    /// Whether a traveller could have made it at `max_speed_kmh` (about 900 for an airliner;
    /// detections pass their own threshold).
    pub fn is_possible(&self, max_speed_kmh: f64) -> bool {
        self.min_speed_kmh <= max_speed_kmh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(latitude: f64, longitude: f64, accuracy_km: f64) -> Position {
        Position { latitude, longitude, accuracy_km }
    }

    #[test]
    fn distances_match_known_routes() {
        let london = at(51.5072, -0.1276, 0.0);
        let new_york = at(40.7128, -74.0060, 0.0);
        let d = distance_km(london, new_york);
        assert!((d - 5570.0).abs() < 15.0, "{d}");
        assert!(distance_km(london, london) < 1e-9);
        // Antipodes: half the circumference, no NaN from rounding.
        assert!((distance_km(at(0.0, 0.0, 0.0), at(0.0, 180.0, 0.0)) - 20015.1).abs() < 1.0);
    }

    #[test]
    fn london_to_lagos_in_28_minutes_is_impossible_and_a_flight_is_not() {
        let london = at(51.5072, -0.1276, 25.0);
        let lagos = at(6.5244, 3.3792, 25.0);
        let quick = Travel::between(london, lagos, 28.0 * 60.0);
        assert!(!quick.is_possible(1000.0), "{quick:?}");
        let madrid = at(40.4168, -3.7038, 25.0);
        let new_york = at(40.7128, -74.0060, 25.0);
        assert!(Travel::between(madrid, new_york, 10.0 * 3600.0).is_possible(1000.0));
    }

    #[test]
    fn coarse_locations_do_not_create_impossible_travel() {
        // Two country-level centroids 600 km apart, each only accurate to 400 km: a user
        // could be on the border of both, five minutes apart.
        let a = at(50.0, 10.0, 400.0);
        let b = at(50.0, 18.4, 400.0);
        let t = Travel::between(a, b, 300.0);
        assert!(t.distance_km > 550.0);
        assert_eq!(t.min_distance_km, 0.0);
        assert!(t.is_possible(1000.0));
        assert_eq!(Travel::between(at(0.0, 0.0, 1.0), at(10.0, 10.0, 1.0), 0.0).min_speed_kmh, f64::INFINITY);
    }
}
